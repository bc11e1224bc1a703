/**
 * The client: documents in, documents out, over any Connect transport that speaks the
 * `docwire.v1` contract (on Node, real gRPC; see transport.ts).
 */

import { create, type JsonObject } from "@bufbuild/protobuf";
import { type Client as RpcClient, createClient, type Transport } from "@connectrpc/connect";

import { type Document, decodeDoc, encodeDoc } from "./documents.js";
import { DocwireError, errorFromCall, errorFromStatus, isErrorStatus } from "./errors.js";
import { GatewayService } from "./gen/docwire/v1/gateway_pb.js";
import { SingleDocumentRequestSchema, type Status, Status_Code } from "./gen/docwire/v1/request_pb.js";
import { Health, type HealthStatus, healthStatusName } from "./health.js";
import { batches, buildRequest, type Inputs, newRequestId, type RequestSpec } from "./requests.js";
import { Response, type Route } from "./response.js";
import { exchange } from "./streaming.js";
import { type Target, targetUri } from "./target.js";

/** Options every call takes. */
export interface CallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
  /** Milliseconds the call (each request, for `post` and `stream`) may take. */
  timeoutMs?: number;
}

/** Options of `post` and `stream`. */
export interface PostOptions extends CallOptions {
  /** Parameters for the executors (`"<executor>__key"` reaches only that executor). */
  parameters?: JsonObject;
  /** A regular expression (Python `re.match`): only executors whose name matches see the requests. */
  targetExecutor?: string;
  /** Documents per request (100). */
  requestSize?: number;
  /** The most requests in flight at once (100). */
  prefetch?: number;
}

/** Options of `stream`. */
export interface StreamOptions extends PostOptions {
  /** Yield replies in input order, not as they finish. */
  resultsInOrder?: boolean;
  /** Yield replies that carry an error instead of throwing their error. */
  continueOnError?: boolean;
}

/** Options of `streamDoc`. */
export interface StreamDocOptions extends CallOptions {
  /** Parameters for the executor. */
  parameters?: JsonObject;
  /** A regular expression naming the executor that should serve the endpoint. */
  targetExecutor?: string;
}

/** What `post` returns. */
export interface PostResult {
  /** Every reply's documents, in input order. */
  docs: Document[];
  /** The first reply's parameters (the only reply's when the inputs fit in one request), with `__results__`. */
  parameters: JsonObject;
  /** The first reply's hops: the gateway's first, then one per executor. */
  routes: Route[];
  /** Every reply, in input order. */
  responses: Response[];
}

const DEFAULT_REQUEST_SIZE = 100;
const DEFAULT_PREFETCH = 100;
const DEFAULT_PROBE_TIMEOUT_MS = 5000;

/** Talks to a docwire gateway (or a Deployment served alone). Use `connect()` to make one. */
export class Client {
  /** Where the client connects. */
  readonly target: Target;
  readonly #gateway: RpcClient<typeof GatewayService>;
  readonly #health: RpcClient<typeof Health>;
  readonly #close: () => void;

  /**
   * @param transport - a Connect transport to the server.
   * @param target - where it leads, for error messages.
   * @param close - closes the transport's connection.
   */
  constructor(transport: Transport, target: Target, close: () => void = () => {}) {
    this.target = target;
    this.#gateway = createClient(GatewayService, transport);
    this.#health = createClient(Health, transport);
    this.#close = close;
  }

  /**
   * Sends documents to `endpoint` and returns every reply's documents, in input order.
   *
   * Inputs that fit in one request go as one unary `Post`; longer inputs stream over
   * one `Stream` call, at most `prefetch` requests in flight.
   *
   * @throws ExecutorError when an executor raised (it names the executor, with its traceback).
   * @throws DocwireError when the call failed (EndpointNotFoundError, GatewayUnavailableError, ...).
   */
  async post(endpoint: string, inputs?: Inputs, options: PostOptions = {}): Promise<PostResult> {
    const spec = requestSpec(endpoint, options);
    const pending = batches(inputs, options.requestSize ?? DEFAULT_REQUEST_SIZE);
    const first = await pending.next();
    const second = await pending.next();
    let responses: Response[];
    if (first.done || second.done) {
      responses = [await this.#postOne(spec, first.done ? [] : first.value, options.signal)];
    } else {
      responses = [];
      const rest = chain([first.value, second.value], pending);
      for await (const response of this.#exchange(endpoint, rest, { ...options, resultsInOrder: true })) {
        responses.push(response);
      }
    }
    const failed = responses.find((response) => response.isError);
    if (failed !== undefined) {
      throw failed.error();
    }
    return {
      docs: responses.flatMap((response) => response.docs),
      parameters: responses[0]?.parameters ?? {},
      routes: responses[0]?.routes ?? [],
      responses,
    };
  }

  /**
   * Streams requests of `requestSize` documents over one bidirectional `Stream` call and
   * yields every reply as it arrives (in input order with `resultsInOrder`). Sending and
   * receiving overlap; at most `prefetch` requests are in flight, so a long generator
   * of documents never sits in memory.
   *
   * @throws ExecutorError (or the error the gateway named) for a reply that failed, unless `continueOnError`.
   * @throws DocwireError when the call failed.
   */
  async *stream(
    endpoint: string,
    inputs?: Inputs,
    options: StreamOptions = {},
  ): AsyncGenerator<Response, void, undefined> {
    yield* this.#exchange(endpoint, batches(inputs, options.requestSize ?? DEFAULT_REQUEST_SIZE), options);
  }

  /**
   * Sends one document to a generator endpoint and yields each document as it is produced.
   *
   * @throws ExecutorError when the endpoint raised.
   * @throws DocwireError when the call failed.
   */
  async *streamDoc(
    endpoint: string,
    doc: Document,
    options: StreamDocOptions = {},
  ): AsyncGenerator<Document, void, undefined> {
    const request = create(SingleDocumentRequestSchema, {
      header: { requestId: newRequestId(), execEndpoint: endpoint, targetExecutor: options.targetExecutor },
      parameters: options.parameters,
      document: encodeDoc(doc),
    });
    try {
      for await (const reply of this.#gateway.streamDoc(request, {
        signal: options.signal,
        timeoutMs: options.timeoutMs,
      })) {
        const status = reply.header?.status;
        if (status !== undefined && isErrorStatus(status)) {
          throw errorFromStatus(status);
        }
        yield reply.document === undefined ? {} : decodeDoc(reply.document);
      }
    } catch (error) {
      throw this.#failure(error, options.signal);
    }
  }

  /**
   * Asks the gateway whether every executor answers; returns the status it reports.
   *
   * @throws DocwireError when the gateway cannot be reached.
   */
  async dryRun(options: CallOptions = {}): Promise<Status> {
    try {
      return await this.#gateway.dryRun({}, probeOptions(options));
    } catch (error) {
      throw this.#failure(error, options.signal);
    }
  }

  /** Whether the gateway and every executor behind it answer (never throws for an unreachable server). */
  async ready(options: CallOptions = {}): Promise<boolean> {
    try {
      return (await this.dryRun(options)).code === Status_Code.SUCCESS;
    } catch (error) {
      if (error instanceof DocwireError) {
        return false;
      }
      throw error;
    }
  }

  /**
   * The server's health through the standard gRPC health service: of the whole server,
   * or of one service (`"docwire.v1.GatewayService"`, `"docwire.v1.ExecutorService"`).
   * Works against executors as well as gateways.
   *
   * @throws EndpointNotFoundError when the server does not know the service.
   * @throws DocwireError when the server cannot be reached.
   */
  async health(service = "", options: CallOptions = {}): Promise<HealthStatus> {
    try {
      return healthStatusName((await this.#health.check({ service }, probeOptions(options))).status);
    } catch (error) {
      throw this.#failure(error, options.signal);
    }
  }

  /** The Flow's endpoints with their JSON schemas: `{"/index": {input: ..., output: ...}}`. */
  async endpoints(options: CallOptions = {}): Promise<Record<string, JsonObject>> {
    try {
      const info = await this.#gateway.endpoints({}, probeOptions(options));
      const schemas = info.schemas ?? {};
      return Object.fromEntries(info.endpoints.map((endpoint) => [endpoint, asObject(schemas[endpoint])]));
    } catch (error) {
      throw this.#failure(error, options.signal);
    }
  }

  /** The server's versions: `{docwire: "0.1.0", protocol: "v1", ...}`. */
  async versions(options: CallOptions = {}): Promise<Record<string, string>> {
    try {
      return { ...(await this.#gateway.status({}, probeOptions(options))).versions };
    } catch (error) {
      throw this.#failure(error, options.signal);
    }
  }

  /** Closes the connection; calls still running fail, and a later call opens a new one. */
  close(): void {
    this.#close();
  }

  async *#exchange(
    endpoint: string,
    groups: AsyncIterable<Document[]>,
    options: StreamOptions,
  ): AsyncGenerator<Response, void, undefined> {
    const replies = exchange(
      (requests, signal) => this.#gateway.stream(requests, { signal }),
      requestsOf(requestSpec(endpoint, options), groups),
      {
        prefetch: options.prefetch ?? DEFAULT_PREFETCH,
        inOrder: options.resultsInOrder ?? false,
        signal: options.signal,
      },
    );
    try {
      for await (const reply of replies) {
        const response = new Response(reply);
        if (response.isError && !options.continueOnError) {
          throw response.error();
        }
        yield response;
      }
    } catch (error) {
      throw this.#failure(error, options.signal);
    }
  }

  async #postOne(spec: RequestSpec, docs: Document[], signal: AbortSignal | undefined): Promise<Response> {
    try {
      return new Response(await this.#gateway.post(buildRequest(spec, docs), { signal }));
    } catch (error) {
      throw this.#failure(error, signal);
    }
  }

  /** The error to raise for `error`: the caller's own abort reason, or the docwire error of a failed call. */
  #failure(error: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) {
      return signal.reason;
    }
    return errorFromCall(error, targetUri(this.target));
  }
}

function requestSpec(endpoint: string, options: PostOptions): RequestSpec {
  return {
    endpoint,
    parameters: options.parameters,
    targetExecutor: options.targetExecutor,
    timeoutMs: options.timeoutMs,
  };
}

async function* requestsOf(spec: RequestSpec, groups: AsyncIterable<Document[]>) {
  for await (const docs of groups) {
    yield buildRequest(spec, docs);
  }
}

async function* chain<T>(first: T[], rest: AsyncIterator<T>): AsyncGenerator<T, void, undefined> {
  yield* first;
  for (let item = await rest.next(); !item.done; item = await rest.next()) {
    yield item.value;
  }
}

/** Probes (dry run, health, endpoints, versions) give up after five seconds unless told otherwise. */
function probeOptions(options: CallOptions): CallOptions {
  return { signal: options.signal, timeoutMs: options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS };
}

function asObject(value: unknown): JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};
}
