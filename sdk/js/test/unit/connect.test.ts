import assert from "node:assert/strict";
import { test } from "node:test";

import { connect } from "../../src/connect.js";

test("connect resolves the URI and opens no connection until the first call", () => {
  const client = connect("grpcs://example.com", { ca: "-----BEGIN CERTIFICATE-----\n" });
  assert.deepEqual(client.target, { host: "example.com", port: 443, protocol: "grpc", tls: true });
  client.close();
});

test("protocols that come with the HTTP API are refused by name, not faked", () => {
  for (const uri of ["http://localhost:8080", "https://example.com", "ws://localhost:8080"]) {
    assert.throws(() => connect(uri), /is not available in this client yet: .* HTTP API; use grpc:\/\//);
  }
});

test("a setting given twice is refused", () => {
  assert.throws(() => connect("grpc://localhost:1", { port: 2 }), /port given twice/);
});
