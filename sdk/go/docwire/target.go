package docwire

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// noPort stands for a target that names no port (0 is a port, and out of range).
const noPort = -1

// DefaultHost is the host a target without one connects to, as in the Python client.
const DefaultHost = "127.0.0.1"

// Target is where a client connects: a host, a port, and whether to use TLS.
type Target struct {
	Host string
	Port int
	TLS  bool
}

// schemes maps each URI scheme the Python client knows to whether it means TLS and
// whether this client speaks it (HTTP and WebSocket are served by the gateway, not by
// this package).
var schemes = map[string]struct{ tls, supported bool }{
	"grpc":  {false, true},
	"grpcs": {true, true},
	"http":  {false, false},
	"https": {true, false},
	"ws":    {false, false},
	"wss":   {true, false},
}

// ParseTarget resolves a target with the Python client's rules:
//
//   - grpc://host:port is plaintext gRPC, grpcs://host:port is gRPC over TLS;
//   - host:port or host (no scheme) is plaintext gRPC, unless tls is true;
//   - without a port, TLS connects to 443 and plaintext to 80;
//   - an empty host means 127.0.0.1; IPv6 hosts may be bracketed ([::1]:8080).
//
// tls mirrors the Python client's tls keyword: it is an error to give it together with
// a URI scheme, which already says whether to use TLS.
func ParseTarget(target string, tls bool) (Target, error) {
	if scheme, _, found := strings.Cut(target, "://"); found {
		return parseURI(target, strings.ToLower(scheme), tls)
	}
	host, port, err := splitHostPort(target)
	if err != nil {
		return Target{}, err
	}
	return newTarget(host, port, tls)
}

func parseURI(target, scheme string, tls bool) (Target, error) {
	kind, known := schemes[scheme]
	switch {
	case !known:
		return Target{}, fmt.Errorf("docwire: unknown scheme %q in %q; use grpc:// or grpcs://", scheme, target)
	case !kind.supported:
		return Target{}, fmt.Errorf("docwire: the Go client speaks gRPC only, not %s (%q); use grpc:// or grpcs://", scheme, target)
	case tls:
		return Target{}, fmt.Errorf("docwire: TLS given twice: by the URI %q and by WithTLS", target)
	}
	parsed, err := url.Parse(target)
	if err != nil {
		return Target{}, fmt.Errorf("docwire: invalid target %q: %w", target, err)
	}
	port := noPort
	if text := parsed.Port(); text != "" {
		if port, err = strconv.Atoi(text); err != nil {
			return Target{}, fmt.Errorf("docwire: invalid port %q in %q", text, target)
		}
	}
	return newTarget(parsed.Hostname(), port, kind.tls)
}

// splitHostPort reads host, host:port, [v6] or [v6]:port; a bare IPv6 address (more
// than one colon, no brackets) is all host.
func splitHostPort(target string) (string, int, error) {
	var host, text string
	switch {
	case strings.HasPrefix(target, "[") && strings.Contains(target, "]:"):
		var err error
		if host, text, err = net.SplitHostPort(target); err != nil {
			return "", 0, fmt.Errorf("docwire: invalid target %q: %w", target, err)
		}
	case strings.HasPrefix(target, "["):
		return strings.TrimSuffix(strings.TrimPrefix(target, "["), "]"), noPort, nil
	case strings.Count(target, ":") == 1:
		host, text, _ = strings.Cut(target, ":")
	default:
		return target, noPort, nil
	}
	port, err := strconv.Atoi(text)
	if err != nil || strings.ContainsAny(text, "+-") {
		return "", 0, fmt.Errorf("docwire: invalid port %q in host %q", text, target)
	}
	return host, port, nil
}

func newTarget(host string, port int, tls bool) (Target, error) {
	if host == "" {
		host = DefaultHost
	}
	if port == noPort {
		port = 80
		if tls {
			port = 443
		}
	}
	if port < 1 || port > 65535 {
		return Target{}, fmt.Errorf("docwire: port %d is out of range 1-65535", port)
	}
	return Target{Host: host, Port: port, TLS: tls}, nil
}

// Address is host:port as gRPC dials it (IPv6 hosts bracketed).
func (t Target) Address() string {
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// URI is the target as a grpc:// or grpcs:// URI, for messages.
func (t Target) URI() string {
	if t.TLS {
		return "grpcs://" + t.Address()
	}
	return "grpc://" + t.Address()
}

// String returns the URI.
func (t Target) String() string {
	return t.URI()
}
