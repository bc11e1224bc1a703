package conformance

import (
	"errors"
	"slices"
	"testing"

	"github.com/docwire/docwire/sdk/go/docwire"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestReady(t *testing.T) {
	client := dial(t)
	if ready, err := client.Ready(testContext(t)); !ready || err != nil {
		t.Errorf("Ready = %v, %v; want true", ready, err)
	}
	if err := client.DryRun(testContext(t)); err != nil {
		t.Errorf("DryRun = %v", err)
	}
}

func TestHealthOfEveryServer(t *testing.T) {
	servers := map[string]string{gateway: docwire.GatewayService}
	for _, address := range executors {
		servers[address] = docwire.ExecutorService
	}
	for address, service := range servers {
		client := dial(t, address)
		for _, name := range []string{"", service} {
			if got, err := client.Health(testContext(t), name); got != docwire.Serving || err != nil {
				t.Errorf("Health(%q) of %s = %v, %v; want SERVING", name, address, got, err)
			}
		}
	}
}

func TestHealthOfAServiceTheServerLacks(t *testing.T) {
	_, err := dial(t).Health(testContext(t), docwire.ExecutorService)
	if status.Code(err) != codes.NotFound || errors.Is(err, docwire.ErrEndpointNotFound) {
		t.Errorf("Health(ExecutorService) of the gateway = %v; want NotFound, not an endpoint error", err)
	}
}

func TestEndpoints(t *testing.T) {
	endpoints, err := dial(t).Endpoints(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, endpoint := range endpoints {
		names = append(names, endpoint.Name)
		if endpoint.Input == nil || endpoint.Output == nil {
			t.Errorf("%s has no input or output schema", endpoint.Name)
		}
		if endpoint.IsGenerator != (endpoint.Name == "/hello") {
			t.Errorf("%s: IsGenerator = %v", endpoint.Name, endpoint.IsGenerator)
		}
	}
	for _, want := range []string{"/default", "/embed", "/fail", "/hello", "/ok"} {
		if !slices.Contains(names, want) {
			t.Errorf("endpoints %v lack %s", names, want)
		}
	}
}

func TestVersions(t *testing.T) {
	versions, err := dial(t).Versions(testContext(t))
	if err != nil || versions["protocol"] != "docwire.v1" || versions["docwire"] == "" {
		t.Errorf("Versions = %v, %v", versions, err)
	}
}
