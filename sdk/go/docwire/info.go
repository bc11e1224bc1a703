package docwire

import (
	"context"
	"fmt"
	"sort"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// HealthStatus is a server's answer to a grpc.health.v1 check.
type HealthStatus = healthpb.HealthCheckResponse_ServingStatus

// The health statuses a docwire server reports.
const (
	Serving    HealthStatus = healthpb.HealthCheckResponse_SERVING
	NotServing HealthStatus = healthpb.HealthCheckResponse_NOT_SERVING
)

// The gRPC services a docwire server names in health checks.
const (
	GatewayService  = "docwire.v1.GatewayService"
	ExecutorService = "docwire.v1.ExecutorService"
)

// Endpoint is one endpoint a Flow serves, with the JSON schemas of its documents and parameters.
type Endpoint struct {
	// Name is the endpoint, for example "/index"; "/default" is the bare @requests one.
	Name string
	// Input and Output are the JSON schemas of the documents the endpoint takes and returns.
	Input, Output map[string]any
	// Parameters is the JSON schema of its parameters (empty when untyped).
	Parameters map[string]any
	// IsGenerator tells a streaming endpoint (call it with StreamDoc).
	IsGenerator bool
	// IsSingletonDoc tells an endpoint that takes one document at a time.
	IsSingletonDoc bool
}

// Ready reports whether the gateway and every executor behind it answer (the DryRun
// rpc). It returns false and an error only when the gateway itself cannot be asked;
// DryRun says why a Flow that answers is not ready.
func (c *Client) Ready(ctx context.Context) (bool, error) {
	outcome, err := c.dryRun(ctx)
	if err != nil {
		return false, err
	}
	return outcome.GetCode() == docwirev1.Status_CODE_SUCCESS, nil
}

// DryRun returns nil when every executor of the Flow answers, else the error naming
// the one that does not (an ErrExecutorUnavailable *Error), or why the gateway could
// not be asked.
func (c *Client) DryRun(ctx context.Context) error {
	outcome, err := c.dryRun(ctx)
	if err != nil {
		return err
	}
	if outcome.GetCode() == docwirev1.Status_CODE_SUCCESS {
		return nil
	}
	return errorFromStatus(outcome, "")
}

func (c *Client) dryRun(ctx context.Context) (*docwirev1.Status, error) {
	var trailer metadata.MD
	outcome, err := c.gateway.DryRun(ctx, &emptypb.Empty{}, grpc.Trailer(&trailer))
	if err != nil {
		return nil, c.rpcError(ctx, err, trailer)
	}
	return outcome, nil
}

// Health asks the server's grpc.health.v1 service about service: "" for the server as a
// whole, GatewayService on a gateway, ExecutorService on an executor replica. A service
// the server does not know is an *Error with code NotFound (and no kind).
func (c *Client) Health(ctx context.Context, service string) (HealthStatus, error) {
	var trailer metadata.MD
	reply, err := healthpb.NewHealthClient(c.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service}, grpc.Trailer(&trailer))
	if status.Code(err) == codes.NotFound {
		// The health service's NOT_FOUND names an unknown service, not an endpoint.
		message := fmt.Sprintf("the server at %s reports no health for service %q", c.target.URI(), service)
		return healthpb.HealthCheckResponse_SERVICE_UNKNOWN, &Error{Message: message, Code: codes.NotFound, causes: []error{err}}
	}
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN, c.rpcError(ctx, err, trailer)
	}
	return reply.GetStatus(), nil
}

// Endpoints lists the endpoints the Flow serves, sorted by name, with their schemas.
func (c *Client) Endpoints(ctx context.Context) ([]Endpoint, error) {
	var trailer metadata.MD
	info, err := c.gateway.Endpoints(ctx, &emptypb.Empty{}, grpc.Trailer(&trailer))
	if err != nil {
		return nil, c.rpcError(ctx, err, trailer)
	}
	schemas := info.GetSchemas().AsMap()
	endpoints := make([]Endpoint, 0, len(info.GetEndpoints()))
	for _, name := range info.GetEndpoints() {
		schema, _ := schemas[name].(map[string]any)
		endpoint := Endpoint{Name: name}
		endpoint.Input, _ = schema["input"].(map[string]any)
		endpoint.Output, _ = schema["output"].(map[string]any)
		endpoint.Parameters, _ = schema["parameters"].(map[string]any)
		endpoint.IsGenerator, _ = schema["is_generator"].(bool)
		endpoint.IsSingletonDoc, _ = schema["is_singleton_doc"].(bool)
		endpoints = append(endpoints, endpoint)
	}
	sort.Slice(endpoints, func(i, j int) bool { return endpoints[i].Name < endpoints[j].Name })
	return endpoints, nil
}

// Versions reports the server's versions, for example {"docwire": "0.1.0", "protocol": "v1"}.
func (c *Client) Versions(ctx context.Context) (map[string]string, error) {
	var trailer metadata.MD
	info, err := c.gateway.Status(ctx, &emptypb.Empty{}, grpc.Trailer(&trailer))
	if err != nil {
		return nil, c.rpcError(ctx, err, trailer)
	}
	return info.GetVersions(), nil
}
