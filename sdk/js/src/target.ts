/**
 * Where a client connects: host, port, protocol and TLS, from a URI and/or options.
 *
 * The rules are the Python client's: a URI scheme names the protocol and a trailing
 * `s` means TLS (`grpcs://`, `https://`, `wss://`); a value may come from the URI or
 * from an option, not both; without a port, TLS connects to 443 and plain to 80.
 */

/** The protocols a docwire server speaks. */
export type Protocol = "grpc" | "http" | "websocket";

/** A resolved connection target. */
export interface Target {
  readonly host: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly tls: boolean;
}

/** Settings that may be given beside (not in addition to) the URI. */
export interface TargetOptions {
  /** The port, unless the host or URI gives it. */
  port?: number;
  /** `"grpc"`, `"http"` or `"websocket"` (or a scheme such as `"grpcs"`), unless the URI gives it. */
  protocol?: string;
  /** Use TLS, unless the URI's scheme says. */
  tls?: boolean;
}

/** The host used when none is given. */
export const DEFAULT_HOST = "127.0.0.1";

/** URI scheme -> protocol and TLS. */
const SCHEMES: ReadonlyMap<string, readonly [Protocol, boolean]> = new Map([
  ["grpc", ["grpc", false]],
  ["grpcs", ["grpc", true]],
  ["http", ["http", false]],
  ["https", ["http", true]],
  ["ws", ["websocket", false]],
  ["wss", ["websocket", true]],
]);

const PROTOCOLS: ReadonlyMap<string, Protocol> = new Map([
  ...[...SCHEMES].map(([scheme, [protocol]]) => [scheme, protocol] as const),
  ["websocket", "websocket"],
]);

const SCHEME_OF: Record<Protocol, readonly [string, string]> = {
  grpc: ["grpc", "grpcs"],
  http: ["http", "https"],
  websocket: ["ws", "wss"],
};

/**
 * Resolves a client's connection settings.
 *
 * @param host - a host name, `host:port`, or a URI such as `grpc://host:port`.
 * @throws TypeError when a value is given twice (URI and option) or a scheme or protocol is unknown.
 * @throws RangeError when the port is not in 1-65535.
 */
export function parseTarget(host?: string, options: TargetOptions = {}): Target {
  let name = host || DEFAULT_HOST;
  let uriProtocol: Protocol | undefined;
  let uriTls: boolean | undefined;
  let uriPort: number | undefined;
  const schemeEnd = name.indexOf("://");
  if (schemeEnd >= 0) {
    const scheme = name.slice(0, schemeEnd).toLowerCase();
    const known = SCHEMES.get(scheme);
    if (known === undefined) {
      throw new TypeError(
        `unknown scheme "${scheme}" in "${name}"; use one of ${[...SCHEMES.keys()].sort().join(", ")}`,
      );
    }
    [uriProtocol, uriTls] = known;
    const authority = parseAuthority(name);
    name = authority.host || DEFAULT_HOST;
    uriPort = authority.port;
    if (options.protocol !== undefined) {
      throw new TypeError(`protocol given twice: by the URI "${host}" and protocol "${options.protocol}"`);
    }
    if (options.tls !== undefined) {
      throw new TypeError(`TLS given twice: by the URI "${host}" and tls ${options.tls}`);
    }
  } else if (name.split(":").length === 2) {
    const [bare = "", portText = ""] = name.split(":");
    if (!/^[0-9]+$/.test(portText)) {
      throw new TypeError(`invalid port "${portText}" in host "${host}"`);
    }
    name = bare;
    uriPort = Number(portText);
  }
  if (uriPort !== undefined && options.port !== undefined) {
    throw new TypeError(`port given twice: by the host "${host}" and port ${options.port}`);
  }
  const protocol = uriProtocol ?? protocolNamed(options.protocol ?? "grpc");
  const tls = uriTls ?? options.tls ?? false;
  const port = uriPort ?? options.port ?? (tls ? 443 : 80);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`port ${port} is out of range 1-65535`);
  }
  return { host: name, port, protocol, tls };
}

/** `host:port` as gRPC expects it (IPv6 hosts bracketed). */
export function targetAddress(target: Target): string {
  const host = target.host.includes(":") && !target.host.startsWith("[") ? `[${target.host}]` : target.host;
  return `${host}:${target.port}`;
}

/** The target as a URI, for messages: `grpc://127.0.0.1:12345`. */
export function targetUri(target: Target): string {
  return `${SCHEME_OF[target.protocol][target.tls ? 1 : 0]}://${targetAddress(target)}`;
}

function protocolNamed(name: string): Protocol {
  const protocol = PROTOCOLS.get(name.toLowerCase());
  if (protocol === undefined) {
    throw new TypeError(`unknown protocol "${name}"; use one of grpc, http, websocket`);
  }
  return protocol;
}

function parseAuthority(uri: string): { host: string; port: number | undefined } {
  let url: URL;
  try {
    // Parsed under a neutral scheme: WHATWG URLs drop the default port of http(s)/ws(s).
    url = new URL(`docwire${uri.slice(uri.indexOf("://"))}`);
  } catch {
    throw new TypeError(`invalid URI "${uri}" (a bad port?)`);
  }
  const hostname = url.hostname.toLowerCase();
  const host = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  return { host, port: url.port === "" ? undefined : Number(url.port) };
}
