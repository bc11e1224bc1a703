/**
 * @docwire/client/browser: the parts of the client that run in a browser.
 *
 * Browsers cannot speak gRPC over HTTP/2; they will reach a gateway through its
 * HTTP/JSON API, and the client for that arrives with the API (there is no `connect`
 * here until then). Documents, tensors, errors and URI rules are the same as on Node.
 * Nothing exported here imports a Node module.
 */

export { decodeDoc, decodeDocs, type Document, encodeDoc, encodeDocs, type Fields, type Value } from "./documents.js";
export {
  BadRequestError,
  DocumentSchemaError,
  DocwireError,
  EndpointNotFoundError,
  ExecutorError,
  ExecutorUnavailableError,
  GatewayUnavailableError,
  MessageTooLargeError,
  RequestTimeoutError,
} from "./errors.js";
export { parseTarget, type Protocol, type Target, type TargetOptions } from "./target.js";
export { isTensor, type Tensor, type TensorData, tensor } from "./tensor.js";
