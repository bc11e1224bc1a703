package docwire

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// DefaultMaxMessageSize is the largest message sent or received, as in the Python client.
const DefaultMaxMessageSize = 64 << 20

// DialOption configures Dial.
type DialOption func(*dialConfig)

type dialConfig struct {
	tls            bool
	rootCAs        *x509.CertPool
	tlsConfig      *tls.Config
	maxMessageSize int
	grpcOptions    []grpc.DialOption
	block          bool
	err            error
}

// WithTLS makes a target without a scheme ("host:port") use TLS, with port 443 when
// it names none. A grpc:// or grpcs:// URI says it already: giving both is an error.
func WithTLS() DialOption {
	return func(c *dialConfig) { c.tls = true }
}

// WithRootCAs verifies the server with these PEM CA certificates instead of the
// system's (TLS targets only).
func WithRootCAs(pem []byte) DialOption {
	return func(c *dialConfig) {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			c.err = errors.Join(c.err, errors.New("docwire: WithRootCAs: no PEM certificate found"))
			return
		}
		c.rootCAs = pool
	}
}

// WithCAFile verifies the server with the PEM CA certificates in the file at path
// (TLS targets only).
func WithCAFile(path string) DialOption {
	return func(c *dialConfig) {
		pem, err := os.ReadFile(path)
		if err != nil {
			c.err = errors.Join(c.err, fmt.Errorf("docwire: WithCAFile: %w", err))
			return
		}
		WithRootCAs(pem)(c)
	}
}

// WithTLSConfig uses this TLS configuration (client certificates, server name, ...)
// for a TLS target.
func WithTLSConfig(config *tls.Config) DialOption {
	return func(c *dialConfig) { c.tlsConfig = config }
}

// WithMaxMessageSize sets the largest message, in bytes, sent or received (default 64 MiB).
func WithMaxMessageSize(n int) DialOption {
	return func(c *dialConfig) { c.maxMessageSize = n }
}

// WithGRPCOptions adds options to the underlying grpc.NewClient call (interceptors,
// keepalive, ...).
func WithGRPCOptions(opts ...grpc.DialOption) DialOption {
	return func(c *dialConfig) { c.grpcOptions = append(c.grpcOptions, opts...) }
}

// WithBlock makes Dial connect and wait until the server accepts the connection or the
// context ends; by default Dial returns at once and the first call connects.
func WithBlock() DialOption {
	return func(c *dialConfig) { c.block = true }
}

func (c *dialConfig) credentials(target Target) (credentials.TransportCredentials, error) {
	if !target.TLS {
		if c.rootCAs != nil || c.tlsConfig != nil {
			return nil, fmt.Errorf("docwire: TLS settings given for the plaintext target %s; use grpcs://", target.URI())
		}
		return insecure.NewCredentials(), nil
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.tlsConfig != nil {
		config = c.tlsConfig.Clone()
	}
	if c.rootCAs != nil {
		config.RootCAs = c.rootCAs
	}
	return credentials.NewTLS(config), nil
}

func (c *dialConfig) dialOptions(target Target) ([]grpc.DialOption, error) {
	if c.maxMessageSize < 1 {
		return nil, fmt.Errorf("docwire: the maximum message size must be positive, not %d", c.maxMessageSize)
	}
	creds, err := c.credentials(target)
	if err != nil {
		return nil, err
	}
	return append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(c.maxMessageSize), grpc.MaxCallSendMsgSize(c.maxMessageSize)),
	}, c.grpcOptions...), nil
}
