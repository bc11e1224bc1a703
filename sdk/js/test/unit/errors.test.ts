import assert from "node:assert/strict";
import { test } from "node:test";

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

import {
  BadRequestError,
  DocumentSchemaError,
  DocwireError,
  EndpointNotFoundError,
  errorFromCall,
  errorFromStatus,
  ExecutorError,
  ExecutorUnavailableError,
  GatewayUnavailableError,
  MessageTooLargeError,
  RequestTimeoutError,
} from "../../src/errors.js";
import { StatusSchema, Status_Code } from "../../src/gen/docwire/v1/request_pb.js";

const URI = "grpc://127.0.0.1:1";

function failedCall(code: Code, message: string, named?: string): ConnectError {
  return new ConnectError(message, code, named === undefined ? undefined : { "docwire-error": named });
}

const calls: Array<[Code, string | undefined, typeof DocwireError]> = [
  [Code.NotFound, "EndpointNotFound", EndpointNotFoundError],
  [Code.NotFound, undefined, EndpointNotFoundError],
  [Code.InvalidArgument, "BadRequest", BadRequestError],
  [Code.InvalidArgument, "DocumentSchemaError", DocumentSchemaError],
  [Code.InvalidArgument, undefined, BadRequestError],
  [Code.Unavailable, "ExecutorUnavailable", ExecutorUnavailableError],
  [Code.Unavailable, undefined, GatewayUnavailableError],
  [Code.DeadlineExceeded, "RequestTimeout", RequestTimeoutError],
  [Code.DeadlineExceeded, undefined, RequestTimeoutError],
  [Code.ResourceExhausted, "MessageTooLarge", MessageTooLargeError],
  [Code.ResourceExhausted, undefined, MessageTooLargeError],
  [Code.Internal, undefined, DocwireError],
  [Code.Internal, "SomethingElse", DocwireError],
];

for (const [code, named, cls] of calls) {
  test(`${Code[code]} with trailer ${named} -> ${cls.name}`, () => {
    const error = errorFromCall(failedCall(code, "the details", named), URI);
    assert.ok(error instanceof cls);
    assert.equal((error as DocwireError).constructor, cls);
    assert.equal((error as DocwireError).code, code);
    assert.equal((error as DocwireError).name, cls.name);
    assert.ok((error as DocwireError).cause instanceof ConnectError);
  });
}

test("an unreachable server is named in the message", () => {
  const error = errorFromCall(failedCall(Code.Unavailable, "connect ECONNREFUSED"), URI);
  assert.equal((error as Error).message, `cannot reach the server at ${URI}: connect ECONNREFUSED`);
});

test("the message is the server's, without Connect's code prefix", () => {
  const error = errorFromCall(failedCall(Code.NotFound, "no endpoint /x", "EndpointNotFound"), URI);
  assert.equal((error as Error).message, "no endpoint /x");
});

test("errors that are not failed calls pass through unchanged", () => {
  const original = new TypeError("bad input");
  assert.equal(errorFromCall(original, URI), original);
});

test("an executor's exception in a reply becomes an ExecutorError", () => {
  const status = create(StatusSchema, {
    code: Status_Code.ERROR,
    description: "NotImplementedError('no time for it')",
    exception: {
      name: "NotImplementedError",
      args: ["no time for it"],
      stacks: ["line 1", "line 2"],
      executor: "faulty",
    },
  });
  const error = errorFromStatus(status);
  assert.ok(error instanceof ExecutorError);
  assert.equal(error.name, "NotImplementedError");
  assert.equal(error.executor, "faulty");
  assert.deepEqual(error.args, ["no time for it"]);
  assert.deepEqual(error.stacks, ["line 1", "line 2"]);
  assert.equal(error.message, `NotImplementedError in executor "faulty": NotImplementedError('no time for it')`);
});

test("a failure the gateway reports in a reply becomes the class it names", () => {
  const named = create(StatusSchema, {
    code: Status_Code.ERROR,
    description: "no executor serves endpoint '/x'",
    exception: { name: "EndpointNotFound", args: ["no executor serves endpoint '/x'"], executor: "" },
  });
  const error = errorFromStatus(named);
  assert.ok(error instanceof EndpointNotFoundError);
  assert.equal(error.message, "no executor serves endpoint '/x'");
  assert.equal(error.code, Code.NotFound);
  // An executor's own exception that happens to share a name stays the executor's.
  const executors = create(StatusSchema, {
    code: Status_Code.ERROR,
    exception: { name: "EndpointNotFound", executor: "e" },
  });
  assert.ok(errorFromStatus(executors) instanceof ExecutorError);
});
