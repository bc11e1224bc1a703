package docwire

import (
	"context"
	"fmt"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
)

// Client talks to a docwire gateway (or a Deployment served alone) over one gRPC
// connection. It is safe for concurrent use; Close it when done.
type Client struct {
	target  Target
	conn    *grpc.ClientConn
	gateway docwirev1.GatewayServiceClient
}

// Dial returns a client of the server at target: "grpc://host:port", "grpcs://host:port"
// (TLS, verified with the system's CAs unless WithRootCAs or WithCAFile say otherwise),
// or "host:port" (plaintext unless WithTLS). Without a port, TLS uses 443 and plaintext 80.
//
// Dial does not wait for the connection unless WithBlock is given; then ctx bounds
// the wait and an unreachable server is an ErrGatewayUnavailable error.
func Dial(ctx context.Context, target string, opts ...DialOption) (*Client, error) {
	config := dialConfig{maxMessageSize: DefaultMaxMessageSize}
	for _, opt := range opts {
		opt(&config)
	}
	if config.err != nil {
		return nil, config.err
	}
	resolved, err := ParseTarget(target, config.tls)
	if err != nil {
		return nil, err
	}
	grpcOptions, err := config.dialOptions(resolved)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(resolved.Address(), grpcOptions...)
	if err != nil {
		return nil, fmt.Errorf("docwire: cannot set up a connection to %s: %w", resolved.URI(), err)
	}
	client := &Client{target: resolved, conn: conn, gateway: docwirev1.NewGatewayServiceClient(conn)}
	if config.block {
		if err := client.waitConnected(ctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	return client, nil
}

func (c *Client) waitConnected(ctx context.Context) error {
	c.conn.Connect()
	for state := c.conn.GetState(); state != connectivity.Ready; state = c.conn.GetState() {
		if !c.conn.WaitForStateChange(ctx, state) {
			return &Error{
				Kind:    ErrGatewayUnavailable,
				Message: fmt.Sprintf("cannot reach the server at %s: %v", c.target.URI(), ctx.Err()),
				causes:  []error{ctx.Err()},
			}
		}
	}
	return nil
}

// Target is where the client connects.
func (c *Client) Target() Target {
	return c.target
}

// Conn is the client's gRPC connection, for the generated docwirev1 stubs or other services.
func (c *Client) Conn() *grpc.ClientConn {
	return c.conn
}

// Close closes the connection; calls in progress fail.
func (c *Client) Close() error {
	return c.conn.Close()
}

// rpcError maps a failed call of this client (see errorFromRPC).
func (c *Client) rpcError(ctx context.Context, err error, trailer metadata.MD) error {
	return errorFromRPC(ctx, err, trailer, c.target)
}
