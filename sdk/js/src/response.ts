/** A reply from a Flow: its status, parameters, routes and documents, decoded on demand. */

import { fromBinary, type JsonObject } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";

import { type DocwireError, errorFromStatus, isErrorStatus } from "./errors.js";
import { decodeDocs, type Document } from "./documents.js";
import { DocListSchema } from "./gen/docwire/v1/document_pb.js";
import type { DataRequest, Status } from "./gen/docwire/v1/request_pb.js";

/** One hop of a request: the gateway's first, then one per executor. */
export interface Route {
  /** `"gateway"` or the executor's name. */
  executor: string;
  /** When the hop received the request. */
  start: Date | undefined;
  /** When the hop finished with it. */
  end: Date | undefined;
}

/** One reply, wrapping the `docwire.v1.DataRequest` message. */
export class Response {
  /** The reply as it came over the wire. */
  readonly message: DataRequest;
  #docs: Document[] | undefined;

  constructor(message: DataRequest) {
    this.message = message;
  }

  /** The id of the request this replies to. */
  get requestId(): string {
    return this.message.header?.requestId ?? "";
  }

  /** The outcome: `code`, `description`, `exception`. */
  get status(): Status | undefined {
    return this.message.header?.status;
  }

  /** Whether the request failed (an executor raised, or the gateway reported a failure). */
  get isError(): boolean {
    return isErrorStatus(this.status);
  }

  /** The parameters, with executors' dict results under `"__results__"`. */
  get parameters(): JsonObject {
    return this.message.parameters ?? {};
  }

  /** The hops: the gateway's first, then one per executor, with start and end times. */
  get routes(): Route[] {
    return this.message.routes.map((route) => ({
      executor: route.executor,
      start: route.startTime && timestampDate(route.startTime),
      end: route.endTime && timestampDate(route.endTime),
    }));
  }

  /** The documents, decoded the first time they are read. */
  get docs(): Document[] {
    if (this.#docs === undefined) {
      const documents = this.message.data?.documents;
      if (documents?.case === "docs") {
        this.#docs = decodeDocs(documents.value);
      } else if (documents?.case === "docsBytes") {
        this.#docs = decodeDocs(fromBinary(DocListSchema, documents.value));
      } else {
        this.#docs = [];
      }
    }
    return this.#docs;
  }

  /**
   * The error this reply's status stands for: an ExecutorError when an executor raised,
   * else the error the gateway named (EndpointNotFoundError, ExecutorUnavailableError, ...).
   *
   * @throws Error when the reply is not an error.
   */
  error(): DocwireError {
    const status = this.status;
    if (status === undefined || !this.isError) {
      throw new Error(`reply ${this.requestId} is not an error`);
    }
    return errorFromStatus(status);
  }
}
