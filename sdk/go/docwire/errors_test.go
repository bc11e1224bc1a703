package docwire

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func executorStatus(e *ExecutorError) *docwirev1.Status {
	return &docwirev1.Status{
		Code:        docwirev1.Status_CODE_ERROR,
		Description: e.Message,
		Exception:   &docwirev1.Status_Exception{Name: e.Name, Args: e.Args, Stacks: e.Stacks, Executor: e.Executor},
	}
}

// gatewayStatus is an error status the gateway itself wrote into a reply.
func gatewayStatus(name, description string) *docwirev1.Status {
	return &docwirev1.Status{
		Code:        docwirev1.Status_CODE_ERROR,
		Description: description,
		Exception:   &docwirev1.Status_Exception{Name: name, Args: []string{description}},
	}
}

func TestErrorsOfFailedCalls(t *testing.T) {
	tests := []struct {
		code    codes.Code
		named   string // the docwire-error trailer, if any
		kinds   []error
		message string
	}{
		{codes.NotFound, "EndpointNotFound", []error{ErrEndpointNotFound}, "no executor serves endpoint '/x'"},
		{codes.NotFound, "", []error{ErrEndpointNotFound}, "no executor serves endpoint '/x'"},
		{codes.InvalidArgument, "BadRequest", []error{ErrBadRequest}, "bad"},
		{codes.InvalidArgument, "DocumentSchemaError", []error{ErrDocumentSchema, ErrBadRequest}, "doc 0: field count"},
		{codes.Unavailable, "ExecutorUnavailable", []error{ErrExecutorUnavailable}, "executor 'a' at 127.0.0.1:1"},
		{codes.Unavailable, "", []error{ErrGatewayUnavailable}, "cannot reach the server at grpc://127.0.0.1:1"},
		{codes.ResourceExhausted, "MessageTooLarge", []error{ErrMessageTooLarge}, "limit"},
		{codes.ResourceExhausted, "", []error{ErrMessageTooLarge}, "limit"},
		{codes.DeadlineExceeded, "RequestTimeout", []error{ErrRequestTimeout}, "late"},
		{codes.Internal, "", nil, "boom"},
		{codes.Internal, "SomethingNew", nil, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.code.String()+"/"+tt.named, func(t *testing.T) {
			message := strings.TrimPrefix(tt.message, "cannot reach the server at grpc://127.0.0.1:1")
			gateway := &fakeGateway{postError: status.Error(tt.code, message)}
			if tt.named != "" {
				gateway.trailer = map[string]string{errorMetadataKey: tt.named}
			}
			client := dialFake(t, gateway)
			_, err := client.Post(context.Background(), "/x", nil)
			var docwireError *Error
			if !errors.As(err, &docwireError) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			for _, kind := range tt.kinds {
				if !errors.Is(err, kind) {
					t.Errorf("errors.Is(%v, %v) = false", err, kind)
				}
			}
			if len(tt.kinds) == 0 && docwireError.Kind != nil {
				t.Errorf("kind %v, want none", docwireError.Kind)
			}
			if docwireError.Code != tt.code || status.Code(err) != tt.code {
				t.Errorf("code %v (status.Code %v), want %v", docwireError.Code, status.Code(err), tt.code)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not say %q", err, tt.message)
			}
		})
	}
}

func TestErrorsOfReplies(t *testing.T) {
	raised := &ExecutorError{
		Name: "NotImplementedError", Message: "NotImplementedError('no time')", Args: []string{"no time"},
		Stacks: []string{"Traceback\n", "NotImplementedError: no time\n"}, Executor: "faulty",
	}
	tests := []struct {
		name   string
		status *docwirev1.Status
		kind   error          // an *Error of this kind, or
		raised *ExecutorError // this *ExecutorError
	}{
		{"executor raised", executorStatus(raised), nil, raised},
		{"endpoint not found", gatewayStatus("EndpointNotFound", "no executor serves '/x'"), ErrEndpointNotFound, nil},
		{"executor unavailable", gatewayStatus("ExecutorUnavailable", "executor 'a' is down"), ErrExecutorUnavailable, nil},
		{"bad request", gatewayStatus("BadRequest", "bad regex"), ErrBadRequest, nil},
		{"an executor's own EndpointNotFound", executorStatus(&ExecutorError{Name: "EndpointNotFound", Executor: "x"}), nil, &ExecutorError{Name: "EndpointNotFound", Executor: "x"}},
		{"unknown gateway error", gatewayStatus("Mystery", "?"), nil, &ExecutorError{Name: "Mystery", Message: "?", Args: []string{"?"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := replyError(&docwirev1.Header{RequestId: "r1", Status: tt.status})
			if tt.kind != nil {
				var docwireError *Error
				if !errors.As(err, &docwireError) || !errors.Is(err, tt.kind) || docwireError.Message != tt.status.GetDescription() {
					t.Errorf("error %#v, want an *Error of kind %v saying %q", err, tt.kind, tt.status.GetDescription())
				}
				return
			}
			var executorError *ExecutorError
			if !errors.As(err, &executorError) {
				t.Fatalf("error %#v is not an *ExecutorError", err)
			}
			want := *tt.raised
			want.RequestID = "r1"
			if executorError.Name != want.Name || executorError.Message != want.Message || executorError.Executor != want.Executor ||
				strings.Join(executorError.Args, "|") != strings.Join(want.Args, "|") || executorError.Traceback() != strings.Join(want.Stacks, "") ||
				executorError.RequestID != "r1" {
				t.Errorf("got %#v, want %#v", executorError, want)
			}
		})
	}
	if err := replyError(&docwirev1.Header{}); err != nil {
		t.Errorf("a successful reply has error %v", err)
	}
}

func TestExecutorErrorMessage(t *testing.T) {
	err := &ExecutorError{Name: "NotImplementedError", Message: "NotImplementedError('no time')", Executor: "faulty"}
	if got, want := err.Error(), `docwire: NotImplementedError in executor "faulty": NotImplementedError('no time')`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestCancelledCallReturnsTheContextsError(t *testing.T) {
	client := dialFake(t, &fakeGateway{postError: context.DeadlineExceeded})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := client.Post(ctx, "/x", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestDeadlineIsARequestTimeout(t *testing.T) {
	client := dialFake(t, &fakeGateway{postError: context.DeadlineExceeded})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := client.Post(ctx, "/x", nil)
	if !errors.Is(err, ErrRequestTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want ErrRequestTimeout and context.DeadlineExceeded", err)
	}
}

func TestUnreachableServerIsGatewayUnavailable(t *testing.T) {
	refuse := func(context.Context, string) (net.Conn, error) { return nil, errors.New("connection refused") }
	client, err := Dial(context.Background(), "grpc://127.0.0.1:1", WithGRPCOptions(grpc.WithContextDialer(refuse)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = client.Post(context.Background(), "/x", nil)
	if !errors.Is(err, ErrGatewayUnavailable) || !strings.Contains(err.Error(), "grpc://127.0.0.1:1") {
		t.Errorf("Post error = %v, want ErrGatewayUnavailable naming the address", err)
	}
	if ready, err := client.Ready(context.Background()); ready || !errors.Is(err, ErrGatewayUnavailable) {
		t.Errorf("Ready = %v, %v; want false and ErrGatewayUnavailable", ready, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, "grpc://127.0.0.1:1", WithBlock(), WithGRPCOptions(grpc.WithContextDialer(refuse))); !errors.Is(err, ErrGatewayUnavailable) {
		t.Errorf("Dial with WithBlock error = %v, want ErrGatewayUnavailable", err)
	}
}

func TestReadyAndDryRun(t *testing.T) {
	ready := dialFake(t, &fakeGateway{dryRun: &docwirev1.Status{Description: "ready"}})
	if ok, err := ready.Ready(context.Background()); !ok || err != nil {
		t.Errorf("Ready = %v, %v; want true", ok, err)
	}
	if err := ready.DryRun(context.Background()); err != nil {
		t.Errorf("DryRun = %v, want nil", err)
	}
	down := dialFake(t, &fakeGateway{dryRun: gatewayStatus("ExecutorUnavailable", "executor 'a' at 127.0.0.1:9 does not answer")})
	if ok, err := down.Ready(context.Background()); ok || err != nil {
		t.Errorf("Ready = %v, %v; want false, nil", ok, err)
	}
	if err := down.DryRun(context.Background()); !errors.Is(err, ErrExecutorUnavailable) || !strings.Contains(err.Error(), "127.0.0.1:9") {
		t.Errorf("DryRun = %v, want ErrExecutorUnavailable naming the executor", err)
	}
}

func TestDialRejects(t *testing.T) {
	tests := []struct {
		target string
		opts   []DialOption
		says   string
	}{
		{"grpc://localhost:1", []DialOption{WithRootCAs([]byte("-----BEGIN CERTIFICATE-----"))}, "no PEM certificate"},
		{"grpc://localhost:1", []DialOption{WithCAFile("/nonexistent/ca.pem")}, "WithCAFile"},
		{"grpc://localhost:1", []DialOption{WithTLSConfig(nil), WithTLS()}, "TLS given twice"},
		{"localhost:1", []DialOption{WithMaxMessageSize(0)}, "must be positive"},
		{"http://localhost:1", nil, "gRPC only"},
	}
	for _, tt := range tests {
		if _, err := Dial(context.Background(), tt.target, tt.opts...); err == nil || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("Dial(%q) error = %v, want one saying %q", tt.target, err, tt.says)
		}
	}
}
