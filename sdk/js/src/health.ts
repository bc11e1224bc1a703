/**
 * The standard gRPC health service (`grpc.health.v1.Health/Check`), which every docwire
 * server serves beside its own contract.
 *
 * It is not part of `proto/docwire/v1`, and no npm package ships it for protobuf-es v2,
 * so its descriptor is written here with protobuf-es's descriptor API: two messages, one
 * enum and the one rpc a client needs (`Check`). The field numbers and names are the
 * wire, the same as every gRPC implementation's.
 */

import { create, createFileRegistry, type Message } from "@bufbuild/protobuf";
import {
  enumDesc,
  type GenEnum,
  type GenMessage,
  type GenService,
  messageDesc,
  serviceDesc,
} from "@bufbuild/protobuf/codegenv2";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";

/** The health service's full name. */
export const HEALTH_SERVICE = "grpc.health.v1.Health";

const FILE_NAME = "grpc/health/v1/health.proto";
const PACKAGE = "grpc.health.v1";

const file = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: FILE_NAME,
    package: PACKAGE,
    syntax: "proto3",
    messageType: [
      {
        name: "HealthCheckRequest",
        field: [
          {
            name: "service",
            jsonName: "service",
            number: 1,
            label: FieldDescriptorProto_Label.OPTIONAL,
            type: FieldDescriptorProto_Type.STRING,
          },
        ],
      },
      {
        name: "HealthCheckResponse",
        field: [
          {
            name: "status",
            jsonName: "status",
            number: 1,
            label: FieldDescriptorProto_Label.OPTIONAL,
            type: FieldDescriptorProto_Type.ENUM,
            typeName: `.${PACKAGE}.HealthCheckResponse.ServingStatus`,
          },
        ],
        enumType: [
          {
            name: "ServingStatus",
            value: [
              { name: "UNKNOWN", number: 0 },
              { name: "SERVING", number: 1 },
              { name: "NOT_SERVING", number: 2 },
              { name: "SERVICE_UNKNOWN", number: 3 },
            ],
          },
        ],
      },
    ],
    service: [
      {
        name: "Health",
        method: [
          {
            name: "Check",
            inputType: `.${PACKAGE}.HealthCheckRequest`,
            outputType: `.${PACKAGE}.HealthCheckResponse`,
          },
        ],
      },
    ],
  }),
  () => undefined,
).getFile(FILE_NAME);

if (file === undefined) {
  throw new Error(`the ${FILE_NAME} descriptor did not build`);
}

/** Asks for the health of one service ("" for the whole server). */
export type HealthCheckRequest = Message<"grpc.health.v1.HealthCheckRequest"> & {
  service: string;
};

/** The health of the service asked for. */
export type HealthCheckResponse = Message<"grpc.health.v1.HealthCheckResponse"> & {
  status: ServingStatus;
};

/** The states a service can be in. */
export enum ServingStatus {
  UNKNOWN = 0,
  SERVING = 1,
  NOT_SERVING = 2,
  SERVICE_UNKNOWN = 3,
}

/** A service's health as its name: `"SERVING"`, `"NOT_SERVING"`, ... */
export type HealthStatus = keyof typeof ServingStatus;

export const HealthCheckRequestSchema: GenMessage<HealthCheckRequest> = messageDesc(file, 0);
export const HealthCheckResponseSchema: GenMessage<HealthCheckResponse> = messageDesc(file, 1);
export const ServingStatusSchema: GenEnum<ServingStatus> = enumDesc(file, 1, 0);

/** `grpc.health.v1.Health`, reduced to `Check`. */
export const Health: GenService<{
  check: { methodKind: "unary"; input: typeof HealthCheckRequestSchema; output: typeof HealthCheckResponseSchema };
}> = serviceDesc(file, 0);

/** The name of a status number; numbers this client does not know read as "UNKNOWN". */
export function healthStatusName(status: number): HealthStatus {
  const name: unknown = ServingStatus[status];
  return typeof name === "string" ? (name as HealthStatus) : "UNKNOWN";
}
