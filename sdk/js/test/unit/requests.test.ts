import assert from "node:assert/strict";
import { test } from "node:test";

import type { Document } from "../../src/documents.js";
import { batches, buildRequest, type Inputs } from "../../src/requests.js";

async function sizes(inputs: Inputs, size: number): Promise<number[]> {
  const found: number[] = [];
  for await (const batch of batches(inputs, size)) {
    found.push(batch.length);
  }
  return found;
}

function* texts(count: number, pulled: { count: number }): Generator<Document> {
  for (let i = 0; i < count; i++) {
    pulled.count += 1;
    yield { text: String(i) };
  }
}

test("inputs are grouped into requests of requestSize documents", async () => {
  const docs = Array.from({ length: 5 }, (_, i) => ({ text: String(i) }));
  assert.deepEqual(await sizes(docs, 2), [2, 2, 1]);
  assert.deepEqual(await sizes(docs, 5), [5]);
  assert.deepEqual(await sizes({ text: "one" }, 3), [1]);
  assert.deepEqual(await sizes(undefined, 3), [0]);
  assert.deepEqual(await sizes([], 3), [0]);
  const pulled = { count: 0 };
  assert.deepEqual(await sizes(texts(7, pulled), 3), [3, 3, 1]);
  async function* slow(): AsyncGenerator<Document> {
    yield { text: "a" };
    yield { text: "b" };
  }
  assert.deepEqual(await sizes(slow(), 1), [1, 1]);
});

test("a generator is read lazily, one request at a time", async () => {
  const pulled = { count: 0 };
  const groups = batches(texts(1000, pulled), 10);
  await groups.next();
  assert.equal(pulled.count, 10);
  await groups.return();
});

test("bad sizes and inputs are refused", async () => {
  await assert.rejects(sizes([], 0), RangeError);
  await assert.rejects(sizes("text" as unknown as Inputs, 1), /inputs must be documents/);
  await assert.rejects(sizes([1] as unknown as Inputs, 1), /inputs must be documents/);
});

test("a request carries the header, parameters and documents", () => {
  const request = buildRequest(
    { endpoint: "/index", parameters: { top_k: 3 }, targetExecutor: "emb.*", timeoutMs: 1500 },
    [{ text: "a" }],
  );
  assert.match(request.header?.requestId ?? "", /^[0-9a-f]{32}$/);
  assert.equal(request.header?.execEndpoint, "/index");
  assert.equal(request.header?.targetExecutor, "emb.*");
  assert.equal(request.header?.timeout, 1500);
  assert.deepEqual(request.parameters, { top_k: 3 });
  assert.equal(request.data?.documents.case, "docs");
  const bare = buildRequest({ endpoint: "/x" }, []);
  assert.equal(bare.header?.targetExecutor, undefined);
  assert.equal(bare.header?.timeout, undefined);
  assert.equal(bare.parameters, undefined);
  assert.notEqual(bare.header?.requestId, request.header?.requestId);
});
