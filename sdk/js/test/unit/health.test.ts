import assert from "node:assert/strict";
import { test } from "node:test";

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";

import {
  Health,
  HEALTH_SERVICE,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  healthStatusName,
  ServingStatus,
} from "../../src/health.js";

test("the descriptor is grpc.health.v1.Health/Check", () => {
  assert.equal(Health.typeName, HEALTH_SERVICE);
  assert.deepEqual(
    Health.methods.map((method) => [method.name, method.methodKind, method.input.typeName, method.output.typeName]),
    [["Check", "unary", "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse"]],
  );
});

test("messages have the standard wire form", () => {
  // service = 1 (string); status = 1 (enum): the bytes every gRPC implementation sends.
  const request = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "x" }));
  assert.deepEqual([...request], [0x0a, 0x01, 0x78]);
  const response = fromBinary(HealthCheckResponseSchema, new Uint8Array([0x08, 0x01]));
  assert.equal(response.status, ServingStatus.SERVING);
});

test("status numbers read as names, unknown numbers as UNKNOWN", () => {
  assert.equal(healthStatusName(1), "SERVING");
  assert.equal(healthStatusName(3), "SERVICE_UNKNOWN");
  assert.equal(healthStatusName(42), "UNKNOWN");
});
