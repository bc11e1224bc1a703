// Package conformance runs the Go SDK's scenario table against a live docwire Flow: the
// sdk_flow fixture of tests/conformance/conftest.py, started by tests/conformance/test_go_sdk.py.
package conformance

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docwire/docwire/sdk/go/docwire"
)

// The Flow under test, from the environment: its gateway and every executor replica (host:port).
var (
	gateway   string
	executors []string
)

func TestMain(m *testing.M) {
	gateway = os.Getenv("DOCWIRE_GATEWAY")
	for _, address := range strings.Split(os.Getenv("DOCWIRE_EXECUTORS"), ",") {
		if address = strings.TrimSpace(address); address != "" {
			executors = append(executors, address)
		}
	}
	if gateway == "" || len(executors) == 0 {
		fmt.Fprintln(os.Stderr, "FAIL: these tests need a live docwire Flow: set DOCWIRE_GATEWAY (its gateway's host:port) "+
			"and DOCWIRE_EXECUTORS (every executor replica's host:port, comma-separated).\n"+
			"Run them through `make test` (tests/conformance/test_go_sdk.py starts the Flow and sets both).")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// callTimeout bounds every call to the live Flow, so a hang fails the test instead of the run.
const callTimeout = 30 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// dial returns a client of address (the gateway unless given), closed when the test ends.
func dial(t *testing.T, address ...string) *docwire.Client {
	t.Helper()
	target := "grpc://" + gateway
	if len(address) > 0 {
		target = address[0]
	}
	client, err := docwire.Dial(testContext(t), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}
