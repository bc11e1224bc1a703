/**
 * Documents as plain objects, and their wire form (docarray's `DocProto`: one typed
 * `Node` per field), so callers never build the field map by hand.
 *
 * Encoding follows docarray: string -> text, boolean -> boolean, integer -> integer
 * (int32; larger ones go as float), number -> float, Uint8Array -> blob, Tensor ->
 * ndarray (type "ndarray"), array of documents -> doc_array, other arrays -> list,
 * object -> dict, null -> an empty node; `id` is text with type "id".
 */

import { create } from "@bufbuild/protobuf";

import {
  type Doc,
  type DocList,
  DocListSchema,
  DocSchema,
  type Node,
  NodeSchema,
} from "./gen/docwire/v1/document_pb.js";
import { decodeTensor, encodeTensor, isTensor, type Tensor } from "./tensor.js";

/** A value a document field (or a value inside one) can hold. */
export type Value = string | number | boolean | null | Uint8Array | Tensor | Document | Value[] | Fields;

/** A dictionary with string keys, like a document's `tags`. */
export interface Fields {
  [key: string]: Value;
}

/**
 * A document: docwire's default fields, plus any other field an executor's schema has.
 *
 * Arrays of objects (and `matches`/`chunks` always) travel as nested documents;
 * other objects travel as dictionaries.
 */
export interface Document {
  id?: string;
  text?: string;
  url?: string;
  blob?: Uint8Array;
  tags?: Fields;
  embedding?: Tensor;
  tensor?: Tensor;
  matches?: Document[];
  chunks?: Document[];
  [field: string]: Value | undefined;
}

/** Fields that always hold nested documents, even when empty. */
const DOC_LIST_FIELDS: ReadonlySet<string> = new Set(["matches", "chunks"]);
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** The wire form of a document. Fields set to `undefined` are left out. */
export function encodeDoc(doc: Document): Doc {
  const data: Record<string, Node> = {};
  for (const [field, value] of Object.entries(doc)) {
    if (value === undefined) {
      continue;
    }
    data[field] = field === "id" ? encodeId(value) : encodeField(field, value);
  }
  return create(DocSchema, { data });
}

/** The wire form of a list of documents. */
export function encodeDocs(docs: Iterable<Document>): DocList {
  return create(DocListSchema, { docs: Array.from(docs, encodeDoc) });
}

/** A document from its wire form: each field decoded by its node's kind. */
export function decodeDoc(doc: Doc): Document {
  const result: Document = {};
  for (const [field, node] of Object.entries(doc.data)) {
    result[field] = decodeNode(node);
  }
  return result;
}

/** Documents from the wire form of a list of them. */
export function decodeDocs(docs: DocList): Document[] {
  return docs.docs.map(decodeDoc);
}

function encodeId(value: Value): Node {
  if (typeof value !== "string") {
    throw new TypeError(`a document's id must be a string, not ${describe(value)}`);
  }
  return create(NodeSchema, { content: { case: "text", value }, docarrayType: { case: "type", value: "id" } });
}

function encodeField(field: string, value: Value): Node {
  if (Array.isArray(value) && (DOC_LIST_FIELDS.has(field) || isDocumentList(value))) {
    return create(NodeSchema, {
      content: { case: "docArray", value: encodeDocs(value.map((item) => asDocument(field, item))) },
    });
  }
  return encodeValue(field, value);
}

function encodeValue(field: string, value: Value): Node {
  if (value === null) {
    return create(NodeSchema);
  }
  switch (typeof value) {
    case "string":
      return create(NodeSchema, { content: { case: "text", value } });
    case "boolean":
      return create(NodeSchema, { content: { case: "boolean", value } });
    case "number":
      return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX
        ? create(NodeSchema, { content: { case: "integer", value } })
        : create(NodeSchema, { content: { case: "float", value } });
    case "object":
      break;
    default:
      throw new TypeError(`field "${field}" cannot travel: ${describe(value)}`);
  }
  if (value instanceof Uint8Array) {
    return create(NodeSchema, { content: { case: "blob", value } });
  }
  if (isTensor(value)) {
    return create(NodeSchema, {
      content: { case: "ndarray", value: encodeTensor(value) },
      docarrayType: { case: "type", value: "ndarray" },
    });
  }
  if (Array.isArray(value)) {
    return create(NodeSchema, {
      content: { case: "list", value: { data: value.map((item) => encodeValue(field, item)) } },
    });
  }
  if (!isPlainObject(value)) {
    throw new TypeError(`field "${field}" cannot travel: ${describe(value)}`);
  }
  const data: Record<string, Node> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item !== undefined) {
      data[key] = encodeValue(`${field}.${key}`, item);
    }
  }
  return create(NodeSchema, { content: { case: "dict", value: { data } } });
}

function decodeNode(node: Node): Value {
  const content = node.content;
  switch (content.case) {
    case "text":
    case "integer":
    case "float":
    case "boolean":
    case "blob":
      return content.value;
    case "ndarray":
      return decodeTensor(content.value);
    case "doc":
      return decodeDoc(content.value);
    case "docArray":
      return decodeDocs(content.value);
    case "list":
    case "set":
    case "tuple":
      return content.value.data.map(decodeNode);
    case "dict": {
      const fields: Fields = {};
      for (const [key, item] of Object.entries(content.value.data)) {
        fields[key] = decodeNode(item);
      }
      return fields;
    }
    case undefined:
      return null;
  }
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isDocumentList(values: Value[]): boolean {
  return (
    values.length > 0 &&
    values.every((item) => typeof item === "object" && item !== null && isPlainObject(item) && !isTensor(item))
  );
}

function asDocument(field: string, value: Value): Document {
  if (typeof value !== "object" || value === null || !isPlainObject(value) || isTensor(value)) {
    throw new TypeError(`field "${field}" holds documents; got ${describe(value)}`);
  }
  return value as Document;
}

function describe(value: unknown): string {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    return `${typeof value} ${String(value)}`;
  }
  return `a ${(value as object).constructor?.name ?? "object"}`;
}
