import assert from "node:assert/strict";
import { test } from "node:test";

import { create } from "@bufbuild/protobuf";

import { NdArraySchema } from "../../src/gen/docwire/v1/document_pb.js";
import { decodeTensor, encodeTensor, tensor } from "../../src/tensor.js";

test("a float32 tensor travels as its raw little-endian bytes, shape and dtype <f4", () => {
  const array = encodeTensor(tensor(new Float32Array([1, 0.5, -2, 3]), [2, 2]));
  assert.equal(array.dense?.dtype, "<f4");
  assert.deepEqual(array.dense?.shape, [2, 2]);
  assert.deepEqual(
    [...(array.dense?.buffer ?? [])],
    [0, 0, 0x80, 0x3f, 0, 0, 0, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0x40, 0x40],
  );
});

test("each supported dtype round-trips", () => {
  const cases = [
    new Float32Array([1.5, -2]),
    new Float64Array([1e300, -0.25]),
    new Int32Array([-7, 2 ** 30]),
    new BigInt64Array([-(2n ** 40n), 5n]),
    new Uint8Array([0, 255]),
  ];
  for (const data of cases) {
    const back = decodeTensor(encodeTensor(tensor(data)));
    assert.equal(back.data.constructor, data.constructor);
    assert.deepEqual([...back.data], [...data]);
    assert.deepEqual(back.shape, [2]);
  }
});

test("<f8 decodes to a Float64Array", () => {
  const bytes = new Uint8Array(new Float64Array([0.1, 2]).buffer);
  const decoded = decodeTensor(create(NdArraySchema, { dense: { buffer: bytes, shape: [2], dtype: "<f8" } }));
  assert.ok(decoded.data instanceof Float64Array);
  assert.deepEqual([...decoded.data], [0.1, 2]);
});

test("unaligned bytes are copied, aligned bytes are viewed", () => {
  const backing = new Uint8Array(9);
  backing.set(new Uint8Array(new Float32Array([4, 5]).buffer), 1);
  const unaligned = decodeTensor(
    create(NdArraySchema, { dense: { buffer: backing.subarray(1), shape: [2], dtype: "<f4" } }),
  );
  assert.deepEqual([...unaligned.data], [4, 5]);
  const aligned = new Uint8Array(new Float32Array([6, 7]).buffer);
  const viewed = decodeTensor(create(NdArraySchema, { dense: { buffer: aligned, shape: [2], dtype: "<f4" } }));
  assert.equal(viewed.data.buffer, aligned.buffer);
});

test("a wrong size, an unknown dtype and a bad shape are refused", () => {
  assert.throws(
    () => decodeTensor(create(NdArraySchema, { dense: { buffer: new Uint8Array(6), shape: [2], dtype: "<f4" } })),
    /needs 8 bytes, got 6/,
  );
  assert.throws(
    () => decodeTensor(create(NdArraySchema, { dense: { buffer: new Uint8Array(2), shape: [1], dtype: "<f2" } })),
    /dtype "<f2" is not supported/,
  );
  assert.throws(() => tensor(new Float32Array(3), [2, 2]), /does not hold 3 elements/);
});

test("tensor() takes plain numbers as float32", () => {
  const made = tensor([1, 2, 3]);
  assert.ok(made.data instanceof Float32Array);
  assert.deepEqual(made.shape, [3]);
});
