import assert from "node:assert/strict";
import { test } from "node:test";

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";

import { decodeDoc, type Document, encodeDoc } from "../../src/documents.js";
import { DocSchema, type Node, NodeSchema } from "../../src/gen/docwire/v1/document_pb.js";
import { tensor } from "../../src/tensor.js";

function field(doc: Document, name: string): Node {
  const node = encodeDoc(doc).data[name];
  assert.ok(node, `field ${name} is encoded`);
  return node;
}

test("each kind of value becomes the node docarray writes for it", () => {
  const doc: Document = {
    id: "abc",
    text: "hello",
    url: "https://example.com/a.png",
    blob: new Uint8Array([1, 2]),
    count: 3,
    score: 0.5,
    big: 2 ** 40,
    flag: true,
    nothing: null,
  };
  const expect: Record<string, [string | undefined, unknown]> = {
    id: ["text", "abc"],
    text: ["text", "hello"],
    url: ["text", "https://example.com/a.png"],
    blob: ["blob", new Uint8Array([1, 2])],
    count: ["integer", 3],
    score: ["float", 0.5],
    big: ["float", 2 ** 40],
    flag: ["boolean", true],
    nothing: [undefined, undefined],
  };
  for (const [name, [kind, value]] of Object.entries(expect)) {
    const node = field(doc, name);
    assert.equal(node.content.case, kind, name);
    assert.deepEqual(node.content.value, value, name);
  }
  assert.deepEqual(field(doc, "id").docarrayType, { case: "type", value: "id" });
  assert.equal(field(doc, "text").docarrayType.case, undefined);
});

test("an embedding is an ndarray node of type ndarray, float32 bytes", () => {
  const node = field({ embedding: tensor(new Float32Array([1, 2, 3, 4]), [2, 2]) }, "embedding");
  assert.equal(node.content.case, "ndarray");
  assert.deepEqual(node.docarrayType, { case: "type", value: "ndarray" });
  if (node.content.case === "ndarray") {
    assert.equal(node.content.value.dense?.dtype, "<f4");
    assert.deepEqual(node.content.value.dense?.shape, [2, 2]);
    assert.equal(node.content.value.dense?.buffer.byteLength, 16);
  }
});

test("tags are a dict, matches and chunks are nested documents, other arrays are lists", () => {
  const doc: Document = {
    tags: { a: 1, b: ["x", false], c: { d: null } },
    matches: [{ text: "m" }],
    chunks: [],
    labels: ["p", "q"],
    parts: [{ text: "nested" }],
  };
  assert.equal(field(doc, "tags").content.case, "dict");
  assert.equal(field(doc, "matches").content.case, "docArray");
  assert.equal(field(doc, "chunks").content.case, "docArray");
  assert.equal(field(doc, "labels").content.case, "list");
  assert.equal(field(doc, "parts").content.case, "docArray");
});

test("documents survive the wire: encode, serialize, parse, decode", () => {
  const doc: Document = {
    id: "d1",
    text: "hello",
    blob: new Uint8Array([0, 255]),
    tags: { lang: "en", n: 2, ratio: 0.25, ok: true, list: [1, "two", null], nested: { deep: "yes" } },
    embedding: tensor(new Float32Array([0.5, 1.5])),
    tensor: tensor(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3]),
    matches: [{ id: "m1", text: "match", tags: { score: 0.9 } }],
    chunks: [{ text: "chunk", chunks: [{ text: "sub" }] }],
  };
  const back = decodeDoc(fromBinary(DocSchema, toBinary(DocSchema, encodeDoc(doc))));
  assert.deepEqual(back, doc);
});

test("nodes docarray sends decode to plain values", () => {
  const wire = create(DocSchema, {
    data: {
      single: { content: { case: "doc", value: { data: { text: { content: { case: "text", value: "inner" } } } } } },
      aSet: { content: { case: "set", value: { data: [{ content: { case: "integer", value: 1 } }] } } },
      aTuple: { content: { case: "tuple", value: { data: [{ content: { case: "text", value: "t" } }] } } },
      empty: create(NodeSchema),
    },
  });
  assert.deepEqual(decodeDoc(wire), { single: { text: "inner" }, aSet: [1], aTuple: ["t"], empty: null });
});

test("values that cannot travel are refused, naming the field", () => {
  assert.throws(() => encodeDoc({ id: 5 } as unknown as Document), /id must be a string/);
  assert.throws(() => encodeDoc({ when: new Date(0) } as unknown as Document), /field "when" cannot travel: a Date/);
  assert.throws(() => encodeDoc({ f: (() => 1) as unknown as string }), /field "f" cannot travel/);
  assert.throws(() => encodeDoc({ matches: ["x"] as unknown as Document[] }), /field "matches" holds documents/);
  assert.throws(() => encodeDoc({ tags: { n: 10n as unknown as number } }), /field "tags.n" cannot travel: bigint/);
});

test("undefined fields are left out", () => {
  assert.deepEqual(Object.keys(encodeDoc({ text: "a", url: undefined }).data), ["text"]);
});
