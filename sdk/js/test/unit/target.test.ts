import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { parseTarget, type Target, type TargetOptions, targetAddress, targetUri } from "../../src/target.js";

const resolved: Array<[string | undefined, TargetOptions, Target]> = [
  ["grpc://localhost:12345", {}, { host: "localhost", port: 12345, protocol: "grpc", tls: false }],
  ["grpcs://example.com:8443", {}, { host: "example.com", port: 8443, protocol: "grpc", tls: true }],
  ["grpc://example.com", {}, { host: "example.com", port: 80, protocol: "grpc", tls: false }],
  ["grpcs://example.com", {}, { host: "example.com", port: 443, protocol: "grpc", tls: true }],
  ["GRPC://Example.com:1", {}, { host: "example.com", port: 1, protocol: "grpc", tls: false }],
  ["http://example.com:80", {}, { host: "example.com", port: 80, protocol: "http", tls: false }],
  ["https://example.com:443", {}, { host: "example.com", port: 443, protocol: "http", tls: true }],
  ["wss://example.com", {}, { host: "example.com", port: 443, protocol: "websocket", tls: true }],
  ["grpc://[::1]:5000", {}, { host: "::1", port: 5000, protocol: "grpc", tls: false }],
  ["localhost:12345", {}, { host: "localhost", port: 12345, protocol: "grpc", tls: false }],
  ["localhost", { port: 12345 }, { host: "localhost", port: 12345, protocol: "grpc", tls: false }],
  ["localhost", { tls: true }, { host: "localhost", port: 443, protocol: "grpc", tls: true }],
  ["localhost", { protocol: "grpcs", port: 9 }, { host: "localhost", port: 9, protocol: "grpc", tls: false }],
  ["localhost", { protocol: "HTTP" }, { host: "localhost", port: 80, protocol: "http", tls: false }],
  [undefined, {}, { host: "127.0.0.1", port: 80, protocol: "grpc", tls: false }],
  ["::1", { port: 7 }, { host: "::1", port: 7, protocol: "grpc", tls: false }],
];

const refused: Array<[string | undefined, TargetOptions, RegExp]> = [
  ["grpc://localhost:1", { port: 2 }, /port given twice/],
  ["localhost:1", { port: 2 }, /port given twice/],
  ["grpc://localhost", { protocol: "grpc" }, /protocol given twice/],
  ["grpcs://localhost", { tls: true }, /TLS given twice/],
  ["ftp://localhost", {}, /unknown scheme "ftp"/],
  ["localhost", { protocol: "smtp" }, /unknown protocol "smtp"/],
  ["localhost:http", {}, /invalid port "http"/],
  ["grpc://localhost:99999", {}, /invalid URI/],
  ["grpc://localhost:0", {}, /out of range/],
  ["localhost", { port: 70000 }, /out of range/],
];

describe("parseTarget", () => {
  for (const [uri, options, expected] of resolved) {
    test(`${uri} ${JSON.stringify(options)} -> ${targetUri(expected)}`, () => {
      assert.deepEqual(parseTarget(uri, options), expected);
    });
  }
  for (const [uri, options, message] of refused) {
    test(`${uri} ${JSON.stringify(options)} is refused`, () => {
      assert.throws(() => parseTarget(uri, options), message);
    });
  }
});

test("IPv6 hosts are bracketed in addresses and URIs", () => {
  const target = parseTarget("grpcs://[::1]:5000");
  assert.equal(targetAddress(target), "[::1]:5000");
  assert.equal(targetUri(target), "grpcs://[::1]:5000");
});
