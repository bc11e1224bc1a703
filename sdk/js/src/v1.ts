/**
 * @docwire/client/v1: the generated `docwire.v1` messages and service descriptors, for
 * calling the contract directly (`createClient(GatewayService, transport)`).
 */

export * from "./gen/docwire/v1/document_pb.js";
export * from "./gen/docwire/v1/executor_pb.js";
export * from "./gen/docwire/v1/gateway_pb.js";
export * from "./gen/docwire/v1/request_pb.js";
