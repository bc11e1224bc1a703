/**
 * @docwire/client for Node: send documents through a docwire Flow over gRPC.
 *
 * @example
 * const client = connect("grpc://localhost:12345");
 * const { docs } = await client.post("/embed", [{ text: "hello" }]);
 */

export {
  Client,
  type CallOptions,
  type PostOptions,
  type PostResult,
  type StreamDocOptions,
  type StreamOptions,
} from "./client.js";
export { connect, type ConnectOptions } from "./connect.js";
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
export { HEALTH_SERVICE, type HealthStatus } from "./health.js";
export type { Inputs } from "./requests.js";
export { Response, type Route } from "./response.js";
export { parseTarget, type Protocol, type Target, type TargetOptions } from "./target.js";
export { isTensor, type Tensor, type TensorData, tensor } from "./tensor.js";
export { DEFAULT_MAX_MESSAGE_BYTES, type TransportOptions } from "./transport.js";
