// Package docwire is the Go client of a docwire gateway: it posts documents through a
// Flow over gRPC (the docwire.v1 contract), streams from generator endpoints, and
// checks readiness and health.
//
// Documents are plain Go values ([Document], [Tensor]); the package converts them to
// and from the docarray wire format (docwire.v1.Doc), so no caller touches the wire map.
//
//	client, err := docwire.Dial(ctx, "grpc://localhost:12345")
//	if err != nil { ... }
//	defer client.Close()
//	result, err := client.Post(ctx, "/embed", []*docwire.Document{{Text: "hello"}})
//
// Errors are typed: an exception an executor raised is an [*ExecutorError]; failures the
// gateway reports (an unknown endpoint, an unreachable executor, a bad request, ...) are
// [*Error] values that match the sentinels with errors.Is, for example
// errors.Is(err, docwire.ErrEndpointNotFound).
package docwire
