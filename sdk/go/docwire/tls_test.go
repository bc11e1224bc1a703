package docwire

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/test/bufconn"
)

// selfSigned is a certificate for "localhost" and its PEM, to serve TLS in tests.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestTLSWithACA(t *testing.T) {
	certificate, caPEM := selfSigned(t)
	listener := bufconn.Listen(1 << 20)
	server := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{certificate}})))
	docwirev1.RegisterGatewayServiceServer(server, &fakeGateway{})
	go func() { _ = server.Serve(listener) }()
	defer server.Stop()
	dialer := grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return listener.DialContext(ctx) })

	client, err := Dial(context.Background(), "grpcs://localhost:8443", WithRootCAs(caPEM), WithGRPCOptions(dialer))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	result, err := client.Post(context.Background(), "/x", Texts("over TLS"))
	if err != nil || result.Docs[0].Text != "over TLS" {
		t.Fatalf("Post over TLS = %v, %v", result, err)
	}

	// Without the CA, the system's roots do not know the certificate.
	untrusting, err := Dial(context.Background(), "grpcs://localhost:8443", WithGRPCOptions(dialer))
	if err != nil {
		t.Fatal(err)
	}
	defer untrusting.Close()
	if _, err := untrusting.Post(context.Background(), "/x", nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Post with the system's roots = %v, want a certificate error", err)
	}
}

func TestTLSSettingsNeedATLSTarget(t *testing.T) {
	_, caPEM := selfSigned(t)
	_, err := Dial(context.Background(), "grpc://localhost:1", WithRootCAs(caPEM))
	if err == nil || !strings.Contains(err.Error(), "plaintext target grpc://localhost:1") {
		t.Errorf("Dial error = %v, want one about TLS settings for a plaintext target", err)
	}
	client, err := Dial(context.Background(), "localhost:1", WithTLS(), WithRootCAs(caPEM))
	if err != nil || client.Target() != (Target{"localhost", 1, true}) {
		t.Errorf("Dial(host:port, WithTLS) = %v, %v", client, err)
	}
	if client != nil {
		_ = client.Close()
	}
}
