package docwire

import (
	"context"
	"errors"
	"fmt"
	"strings"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The kinds of failure a docwire server reports, named as in the Python client's
// error hierarchy. Match them with errors.Is; the error itself is an [*Error].
var (
	// ErrBadRequest: the request could not be read (malformed bytes, a bad parameter or value).
	ErrBadRequest = errors.New("bad request")
	// ErrDocumentSchema: documents do not fit the endpoint's schema; also matches ErrBadRequest.
	ErrDocumentSchema = errors.New("documents do not fit the schema")
	// ErrEndpointNotFound: no executor on the request's path serves the endpoint, or
	// the target executor pattern matches none.
	ErrEndpointNotFound = errors.New("endpoint not found")
	// ErrExecutorUnavailable: the gateway cannot reach an executor.
	ErrExecutorUnavailable = errors.New("executor unavailable")
	// ErrGatewayUnavailable: the client cannot reach the server.
	ErrGatewayUnavailable = errors.New("gateway unavailable")
	// ErrRequestTimeout: the request's deadline passed before the answer came.
	ErrRequestTimeout = errors.New("request timed out")
	// ErrMessageTooLarge: a message is larger than the configured limit.
	ErrMessageTooLarge = errors.New("message too large")
)

// errorMetadataKey is the trailing-metadata key naming the error class a server aborted with.
const errorMetadataKey = "docwire-error"

// kindsByName maps the servers' error class names to kinds: the names travel in trailing
// metadata and in the exception of an error reply the gateway (not an executor) wrote.
var kindsByName = map[string]error{
	"BadRequest":          ErrBadRequest,
	"DocumentSchemaError": ErrDocumentSchema,
	"EndpointNotFound":    ErrEndpointNotFound,
	"ExecutorUnavailable": ErrExecutorUnavailable,
	"GatewayUnavailable":  ErrGatewayUnavailable,
	"RequestTimeout":      ErrRequestTimeout,
	"MessageTooLarge":     ErrMessageTooLarge,
}

// kindsByCode maps gRPC status codes to kinds when no class is named.
var kindsByCode = map[codes.Code]error{
	codes.InvalidArgument:   ErrBadRequest,
	codes.NotFound:          ErrEndpointNotFound,
	codes.Unavailable:       ErrGatewayUnavailable,
	codes.DeadlineExceeded:  ErrRequestTimeout,
	codes.ResourceExhausted: ErrMessageTooLarge,
}

// parentKinds holds the kinds that are special cases of others.
var parentKinds = map[error]error{ErrDocumentSchema: ErrBadRequest}

// Error is a failure a docwire server reported, or a failed gRPC call.
type Error struct {
	// Kind is one of the Err* sentinels, or nil when the failure has none.
	Kind error
	// Message says what went wrong, as the server wrote it.
	Message string
	// Code is the gRPC status code; codes.OK when the failure came inside a reply.
	Code codes.Code
	// causes are what errors.Is and errors.As see besides the kind: the gRPC status
	// error, and the context's error when the context ended the call.
	causes []error
}

// Error implements error.
func (e *Error) Error() string {
	switch {
	case e.Kind == nil:
		return "docwire: " + e.Message
	case e.Message == "":
		return "docwire: " + e.Kind.Error()
	}
	return fmt.Sprintf("docwire: %v: %s", e.Kind, e.Message)
}

// Unwrap returns the kind (and the kinds it specializes), the gRPC status error and the
// context's error, so errors.Is and status.FromError both work.
func (e *Error) Unwrap() []error {
	var wrapped []error
	for kind := e.Kind; kind != nil; kind = parentKinds[kind] {
		wrapped = append(wrapped, kind)
	}
	return append(wrapped, e.causes...)
}

// ExecutorError is an exception an executor raised while handling a request.
type ExecutorError struct {
	// Name is the exception's class name, for example "NotImplementedError".
	Name string
	// Message is the status' one-line description, for example "NotImplementedError('no time')".
	Message string
	// Args are the exception's arguments, as strings.
	Args []string
	// Stacks is the executor-side traceback.
	Stacks []string
	// Executor is the name of the executor that raised.
	Executor string
	// RequestID is the id of the request that failed.
	RequestID string
}

// Error implements error.
func (e *ExecutorError) Error() string {
	name := e.Name
	if name == "" {
		name = "error"
	}
	if e.Executor != "" {
		name += fmt.Sprintf(" in executor %q", e.Executor)
	}
	return fmt.Sprintf("docwire: %s: %s", name, e.Message)
}

// Traceback is the executor-side traceback as one text.
func (e *ExecutorError) Traceback() string {
	return strings.Join(e.Stacks, "")
}

// errorFromStatus is the error an error reply's status stands for: an *ExecutorError when
// an executor raised, else the *Error the gateway named.
func errorFromStatus(s *docwirev1.Status, requestID string) error {
	exception := s.GetException()
	if exception.GetExecutor() == "" {
		if kind, ok := kindsByName[exception.GetName()]; ok {
			return &Error{Kind: kind, Message: s.GetDescription()}
		}
	}
	return &ExecutorError{
		Name:      exception.GetName(),
		Message:   s.GetDescription(),
		Args:      exception.GetArgs(),
		Stacks:    exception.GetStacks(),
		Executor:  exception.GetExecutor(),
		RequestID: requestID,
	}
}

// errorFromRPC maps a failed gRPC call, once, for every rpc of the client. A docwire
// server names the error class in trailing metadata; otherwise the code decides, and an
// unreachable server becomes ErrGatewayUnavailable naming target. A call the caller's
// context cancelled returns the context's error itself; a deadline exceeded matches
// both ErrRequestTimeout and context.DeadlineExceeded.
func errorFromRPC(ctx context.Context, err error, trailer metadata.MD, target Target) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	if st.Code() == codes.Canceled && ctx.Err() != nil {
		return ctx.Err()
	}
	var kind error
	if named := trailer.Get(errorMetadataKey); len(named) > 0 {
		kind = kindsByName[named[0]]
	}
	if kind == nil {
		kind = kindsByCode[st.Code()]
	}
	message := st.Message()
	if kind == ErrGatewayUnavailable {
		message = fmt.Sprintf("cannot reach the server at %s: %s", target.URI(), st.Message())
	}
	wrapped := &Error{Kind: kind, Message: message, Code: st.Code(), causes: []error{err}}
	switch {
	case st.Code() == codes.DeadlineExceeded:
		// The server may report the deadline a moment before the context notices it.
		wrapped.causes = append(wrapped.causes, context.DeadlineExceeded)
	case ctx.Err() != nil:
		wrapped.causes = append(wrapped.causes, ctx.Err())
	}
	return wrapped
}
