/**
 * The one place a protocol becomes a transport. On Node, `grpc[s]://` is real gRPC over
 * HTTP/2 (one connection per client, kept for its lifetime). The HTTP/JSON and
 * WebSocket transports, which browsers need, come with the gateway's HTTP API; until
 * then those protocols are refused here, by name.
 */

import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

import { type Target, targetUri } from "./target.js";

/** The largest message sent or received by default, in bytes (the Python client's 64 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** How the client's connection is set up. */
export interface TransportOptions {
  /** The largest message, in bytes, sent or received. */
  maxMessageBytes?: number;
  /** PEM CA certificates to verify the server with (TLS only); the system's by default. */
  ca?: string | Uint8Array;
}

/** A transport and the way to close its connection. */
export interface Connection {
  readonly transport: Transport;
  /** Closes the connection; calls still running fail. */
  close(): void;
}

/**
 * Opens the transport for `target`.
 *
 * @throws TypeError for a protocol this client does not speak yet.
 */
export function openConnection(target: Target, options: TransportOptions = {}): Connection {
  if (target.protocol !== "grpc") {
    throw new TypeError(
      `protocol "${target.protocol}" (${targetUri(target)}) is not available in this client yet: ` +
        "the HTTP/JSON and WebSocket transports come with the gateway's HTTP API; use grpc:// or grpcs://",
    );
  }
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  const baseUrl = `${target.tls ? "https" : "http"}://${host}:${target.port}`;
  const sessions = new Http2SessionManager(
    baseUrl,
    {},
    target.tls && options.ca !== undefined
      ? { ca: typeof options.ca === "string" ? options.ca : Buffer.from(options.ca) }
      : {},
  );
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager: sessions,
    readMaxBytes: maxBytes,
    writeMaxBytes: maxBytes,
  });
  return { transport, close: () => sessions.abort() };
}
