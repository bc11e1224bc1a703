/** Turning what a caller passes to `post` into requests of `requestSize` documents. */

import { create, type JsonObject } from "@bufbuild/protobuf";

import { type Document, encodeDocs } from "./documents.js";
import { type DataRequest, DataRequestSchema } from "./gen/docwire/v1/request_pb.js";

/**
 * Everything `post` accepts as input: nothing, one document, or an iterable or async
 * iterable of documents (a generator is read lazily, never held whole).
 */
export type Inputs = Document | Iterable<Document> | AsyncIterable<Document> | undefined;

/** What every request of one call shares. */
export interface RequestSpec {
  endpoint: string;
  parameters?: JsonObject | undefined;
  targetExecutor?: string | undefined;
  timeoutMs?: number | undefined;
}

/**
 * Groups the inputs into arrays of at most `size` documents.
 *
 * No input (undefined, or an empty iterable) gives one empty batch, so `post(endpoint)`
 * still calls the endpoint once.
 *
 * @throws RangeError when `size` is not a positive integer.
 * @throws TypeError when the inputs are not documents.
 */
export async function* batches(inputs: Inputs, size: number): AsyncGenerator<Document[], void, undefined> {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`requestSize must be a positive integer, not ${size}`);
  }
  if (inputs === undefined) {
    yield [];
    return;
  }
  if (typeof inputs !== "object" || inputs === null || !isIterable(inputs)) {
    yield [checked(inputs)];
    return;
  }
  let batch: Document[] = [];
  let sent = false;
  for await (const doc of inputs) {
    batch.push(checked(doc));
    if (batch.length === size) {
      yield batch;
      sent = true;
      batch = [];
    }
  }
  if (batch.length > 0 || !sent) {
    yield batch;
  }
}

/** One request carrying `docs`, with a new request id. */
export function buildRequest(spec: RequestSpec, docs: Document[]): DataRequest {
  return create(DataRequestSchema, {
    header: {
      requestId: newRequestId(),
      execEndpoint: spec.endpoint,
      targetExecutor: spec.targetExecutor,
      timeout: spec.timeoutMs,
    },
    parameters: spec.parameters,
    data: { documents: { case: "docs", value: encodeDocs(docs) } },
  });
}

/** A fresh request id: 32 hex digits, like the Python client's. */
export function newRequestId(): string {
  return globalThis.crypto.randomUUID().replaceAll("-", "");
}

function isIterable(value: object): value is Iterable<Document> | AsyncIterable<Document> {
  return Symbol.iterator in value || Symbol.asyncIterator in value;
}

function checked(doc: unknown): Document {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc) || ArrayBuffer.isView(doc)) {
    throw new TypeError(`inputs must be documents (plain objects) or an iterable of them, got ${String(doc)}`);
  }
  return doc as Document;
}
