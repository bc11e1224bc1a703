/**
 * Tensors as typed arrays, and their wire form: numpy's raw little-endian bytes, a
 * shape and a dtype string (docarray's `NdArrayProto`). Nothing is turned into a list
 * of numbers on the way: the bytes are viewed, not parsed.
 */

import { create } from "@bufbuild/protobuf";

import { type NdArray, NdArraySchema } from "./gen/docwire/v1/document_pb.js";

/** The element types a tensor can hold, each with its numpy dtype. */
export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** An n-dimensional array: `data` in C order, `shape` its dimensions. */
export interface Tensor {
  data: TensorData;
  shape: number[];
}

type TypedArrayClass = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
  readonly BYTES_PER_ELEMENT: number;
};

/** numpy dtype string -> typed array, for the dtypes a docwire executor sends. */
const BY_DTYPE: ReadonlyMap<string, TypedArrayClass> = new Map<string, TypedArrayClass>([
  ["<f4", Float32Array],
  ["<f8", Float64Array],
  ["<i4", Int32Array],
  ["<i8", BigInt64Array],
  ["|u1", Uint8Array],
  ["<u1", Uint8Array],
]);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A tensor of `data`, one-dimensional unless `shape` says otherwise.
 *
 * @throws RangeError when `shape` does not hold `data.length` elements.
 */
export function tensor(data: TensorData | number[], shape?: number[]): Tensor {
  const values = Array.isArray(data) ? Float32Array.from(data) : data;
  const dims = shape ?? [values.length];
  const size = dims.reduce((product, dim) => product * dim, 1);
  if (size !== values.length || dims.some((dim) => !Number.isInteger(dim) || dim < 0)) {
    throw new RangeError(`shape [${dims.join(", ")}] does not hold ${values.length} elements`);
  }
  return { data: values, shape: dims };
}

/** Whether `value` is a Tensor (a typed array of a supported kind with a shape). */
export function isTensor(value: unknown): value is Tensor {
  if (typeof value !== "object" || value === null) {
    return false;
  }
  const { data, shape } = value as Partial<Tensor>;
  return Array.isArray(shape) && dtypeOf(data) !== undefined;
}

/** The numpy dtype string of a typed array (little-endian), or undefined for other values. */
export function dtypeOf(data: unknown): string | undefined {
  if (data instanceof Float32Array) return "<f4";
  if (data instanceof Float64Array) return "<f8";
  if (data instanceof Int32Array) return "<i4";
  if (data instanceof BigInt64Array) return "<i8";
  if (data instanceof Uint8Array) return "|u1";
  return undefined;
}

/** The wire form of a tensor; the bytes are a view of `tensor.data`, not a copy. */
export function encodeTensor(value: Tensor): NdArray {
  requireLittleEndian();
  const { data, shape } = value;
  const dtype = dtypeOf(data);
  if (dtype === undefined) {
    throw new TypeError("tensor data must be a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array");
  }
  return create(NdArraySchema, {
    dense: { buffer: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), shape, dtype },
  });
}

/**
 * A tensor from its wire form. The data views the received bytes when they are
 * aligned for the element type, and is a copy otherwise.
 *
 * @throws TypeError for a dtype this client does not read, or bytes that do not fit the shape.
 */
export function decodeTensor(array: NdArray): Tensor {
  requireLittleEndian();
  const dense = array.dense;
  const dtype = dense?.dtype ?? "";
  const cls = BY_DTYPE.get(dtype);
  if (cls === undefined) {
    throw new TypeError(`tensor dtype "${dtype}" is not supported; use one of ${[...BY_DTYPE.keys()].join(", ")}`);
  }
  const shape = [...(dense?.shape ?? [])];
  let bytes = dense?.buffer ?? new Uint8Array();
  const size = shape.reduce((product, dim) => product * dim, 1);
  if (bytes.byteLength !== size * cls.BYTES_PER_ELEMENT) {
    throw new TypeError(
      `a "${dtype}" tensor of shape [${shape.join(", ")}] needs ${size * cls.BYTES_PER_ELEMENT} bytes, got ${bytes.byteLength}`,
    );
  }
  if (bytes.byteOffset % cls.BYTES_PER_ELEMENT !== 0) {
    bytes = bytes.slice();
  }
  return { data: new cls(bytes.buffer, bytes.byteOffset, size), shape };
}

function requireLittleEndian(): void {
  if (!LITTLE_ENDIAN) {
    throw new Error("tensors travel as little-endian bytes; this client does not convert them on a big-endian host");
  }
}
