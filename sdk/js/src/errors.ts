/**
 * The errors the client raises, named by what went wrong (the Python client's hierarchy).
 *
 * Failures reach the client in two forms, and both are translated here, once: a gRPC
 * status (a `ConnectError`, whose `docwire-error` trailer names the class the server
 * meant) and an error status inside a reply (an executor's exception, or a failure the
 * gateway reports in band on a stream).
 */

import { Code, ConnectError } from "@connectrpc/connect";

import { type Status, Status_Code } from "./gen/docwire/v1/request_pb.js";

/** Trailing-metadata key naming the error class a docwire server aborted with. */
export const ERROR_TRAILER = "docwire-error";

/** What every docwire error may carry besides its message. */
export interface DocwireErrorOptions {
  /** The gRPC status code the error arrived with. */
  code?: Code;
  /** The error of the layer below (a `ConnectError`). */
  cause?: unknown;
}

/** Base class of every error docwire raises on purpose. */
export class DocwireError extends Error {
  /** The gRPC status code this kind of error travels as. */
  static readonly code: Code = Code.Internal;
  override name = "DocwireError";
  /** The gRPC status code it arrived with (the class' own when it came in a reply). */
  readonly code: Code;

  constructor(message: string, options: DocwireErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? (new.target as typeof DocwireError).code;
  }
}

/** The request could not be read: malformed bytes, a bad parameter, a bad value. */
export class BadRequestError extends DocwireError {
  static override readonly code: Code = Code.InvalidArgument;
  override name = "BadRequestError";
}

/** Documents do not fit the schema the endpoint declares; the message names the field. */
export class DocumentSchemaError extends BadRequestError {
  override name = "DocumentSchemaError";
}

/** No executor on the request's path serves the endpoint. */
export class EndpointNotFoundError extends DocwireError {
  static override readonly code: Code = Code.NotFound;
  override name = "EndpointNotFoundError";
}

/** The gateway cannot reach an executor; the message names the executor and its address. */
export class ExecutorUnavailableError extends DocwireError {
  static override readonly code: Code = Code.Unavailable;
  override name = "ExecutorUnavailableError";
}

/** The client cannot reach the server; the message names the address. */
export class GatewayUnavailableError extends DocwireError {
  static override readonly code: Code = Code.Unavailable;
  override name = "GatewayUnavailableError";
}

/** The request's deadline passed before the answer came. */
export class RequestTimeoutError extends DocwireError {
  static override readonly code: Code = Code.DeadlineExceeded;
  override name = "RequestTimeoutError";
}

/** A message is larger than the configured limit; the message names the limit. */
export class MessageTooLargeError extends DocwireError {
  static override readonly code: Code = Code.ResourceExhausted;
  override name = "MessageTooLargeError";
}

/** What an executor's exception is made of, as its reply reports it. */
export interface ExecutorErrorInit {
  /** The status' one-line description, for example `NotImplementedError('no time for it')`. */
  description: string;
  /** The exception's class name, for example `NotImplementedError`. */
  name: string;
  /** The exception's arguments, as strings. */
  args: string[];
  /** The executor-side traceback. */
  stacks: string[];
  /** The executor's name. */
  executor: string;
}

/**
 * An executor raised while handling a request. The executor keeps serving.
 *
 * `name` is the exception's class name as the executor raised it (`NotImplementedError`).
 */
export class ExecutorError extends DocwireError {
  /** The status' one-line description. */
  readonly description: string;
  /** The exception's arguments, as strings. */
  readonly args: string[];
  /** The executor-side traceback. */
  readonly stacks: string[];
  /** The name of the executor that raised. */
  readonly executor: string;

  constructor(init: ExecutorErrorInit, options: DocwireErrorOptions = {}) {
    const where = init.executor ? ` in executor "${init.executor}"` : "";
    super(`${init.name || "error"}${where}: ${init.description}`, options);
    this.name = init.name || "ExecutorError";
    this.description = init.description;
    this.args = init.args;
    this.stacks = init.stacks;
    this.executor = init.executor;
  }
}

type ErrorClass = new (message: string, options?: DocwireErrorOptions) => DocwireError;

/** The server's (Python) class names -> ours. */
const BY_NAME: ReadonlyMap<string, ErrorClass> = new Map<string, ErrorClass>([
  ["BadRequest", BadRequestError],
  ["DocumentSchemaError", DocumentSchemaError],
  ["EndpointNotFound", EndpointNotFoundError],
  ["ExecutorUnavailable", ExecutorUnavailableError],
  ["GatewayUnavailable", GatewayUnavailableError],
  ["MessageTooLarge", MessageTooLargeError],
  ["RequestTimeout", RequestTimeoutError],
]);

const BY_CODE: ReadonlyMap<Code, ErrorClass> = new Map<Code, ErrorClass>([
  [Code.InvalidArgument, BadRequestError],
  [Code.NotFound, EndpointNotFoundError],
  [Code.Unavailable, GatewayUnavailableError],
  [Code.DeadlineExceeded, RequestTimeoutError],
  [Code.ResourceExhausted, MessageTooLargeError],
]);

/**
 * The error a failed call stands for; errors that are not a `ConnectError` (a bad
 * input, a bug) are returned unchanged.
 *
 * A docwire server names the error class in the `docwire-error` trailer; otherwise
 * the status code decides, and an unreachable server becomes a GatewayUnavailableError
 * naming `uri`.
 */
export function errorFromCall(error: unknown, uri: string): unknown {
  if (!(error instanceof ConnectError)) {
    return error;
  }
  const named = error.metadata.get(ERROR_TRAILER);
  const cls = (named === null ? undefined : BY_NAME.get(named)) ?? BY_CODE.get(error.code) ?? DocwireError;
  const options = { code: error.code, cause: error };
  if (cls === GatewayUnavailableError) {
    return new GatewayUnavailableError(`cannot reach the server at ${uri}: ${error.rawMessage}`, options);
  }
  return new cls(error.rawMessage || Code[error.code], options);
}

/** Whether a reply's status reports a failure. */
export function isErrorStatus(status: Status | undefined): boolean {
  return status !== undefined && status.code !== Status_Code.SUCCESS;
}

/**
 * The error a reply's status stands for: the class the gateway named for a failure it
 * reported in band (no executor set), else an ExecutorError.
 */
export function errorFromStatus(status: Status): DocwireError {
  const exception = status.exception;
  const named = exception === undefined || exception.executor ? undefined : BY_NAME.get(exception.name);
  if (named !== undefined) {
    return new named(status.description);
  }
  return new ExecutorError({
    description: status.description,
    name: exception?.name ?? "",
    args: [...(exception?.args ?? [])],
    stacks: [...(exception?.stacks ?? [])],
    executor: exception?.executor ?? "",
  });
}
