/** `connect()`: a Client for a URI, on Node's gRPC transport. */

import { Client } from "./client.js";
import { parseTarget, type TargetOptions } from "./target.js";
import { openConnection, type TransportOptions } from "./transport.js";

/** Where and how to connect, beside the URI. */
export interface ConnectOptions extends TargetOptions, TransportOptions {}

/**
 * A client for the server at `uri`: `grpc://host:port`, `grpcs://` for TLS, or `host:port`.
 * The connection opens on the first call and is kept until `client.close()`.
 *
 * @throws TypeError when a setting is given twice or is invalid, or the protocol is not available yet.
 * @throws RangeError when the port is out of range.
 */
export function connect(uri?: string, options: ConnectOptions = {}): Client {
  const target = parseTarget(uri, options);
  const connection = openConnection(target, options);
  return new Client(connection.transport, target, connection.close);
}
