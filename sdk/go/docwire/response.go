package docwire

import (
	"fmt"
	"time"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
	"google.golang.org/protobuf/proto"
)

// ResultsKey is the parameter under which executors' dict results come back, by
// "<executor>/rep-<replica>".
const ResultsKey = "__results__"

// Route is one hop of a request: the gateway's first, then one per executor.
type Route struct {
	// Executor is the hop's name: "gateway" or an executor's name.
	Executor string
	// Start is when the hop received the request.
	Start time.Time
	// End is when the hop finished with it.
	End time.Time
}

// Response is one reply of a Flow: the documents of one request and what came with them.
type Response struct {
	// RequestID is the id of the request this replies to.
	RequestID string
	// Index is the request's position among those one call sent (0 for the first;
	// -1 for a reply to no request of this call).
	Index int
	// Docs are the reply's documents.
	Docs []*Document
	// Parameters are the reply's parameters, with numbers as float64 (JSON's model).
	Parameters map[string]any
	// Routes are the hops the request took.
	Routes []Route
}

// Results returns the executors' dict results (Parameters["__results__"]), by
// "<executor>/rep-<replica>"; nil when no executor returned one.
func (r *Response) Results() map[string]any {
	return resultsOf(r.Parameters)
}

func resultsOf(parameters map[string]any) map[string]any {
	results, _ := parameters[ResultsKey].(map[string]any)
	return results
}

// Result is what Post returns: every reply's documents in input order, and what the
// replies carried besides.
type Result struct {
	// Docs are the documents of every reply, in input order.
	Docs []*Document
	// Parameters are the first reply's parameters; see Responses for the others.
	Parameters map[string]any
	// Routes are the first reply's routes; see Responses for the others.
	Routes []Route
	// Responses are every reply, in input order (one per request of RequestSize documents).
	Responses []*Response
}

// Results returns the executors' dict results of the first reply, by "<executor>/rep-<replica>".
func (r *Result) Results() map[string]any {
	return resultsOf(r.Parameters)
}

func newResult(responses []*Response) *Result {
	result := &Result{Responses: responses}
	for _, response := range responses {
		result.Docs = append(result.Docs, response.Docs...)
	}
	if len(responses) > 0 {
		result.Parameters = responses[0].Parameters
		result.Routes = responses[0].Routes
	}
	return result
}

// decodeReply reads a reply's documents, parameters and routes. Its status is checked
// apart (replyError): an error reply still has a request id and routes.
func decodeReply(message *docwirev1.DataRequest, index int) (*Response, error) {
	response := &Response{
		RequestID:  message.GetHeader().GetRequestId(),
		Index:      index,
		Parameters: message.GetParameters().AsMap(),
		Routes:     make([]Route, len(message.GetRoutes())),
	}
	for i, route := range message.GetRoutes() {
		response.Routes[i] = Route{
			Executor: route.GetExecutor(),
			Start:    route.GetStartTime().AsTime(),
			End:      route.GetEndTime().AsTime(),
		}
	}
	var err error
	switch data := message.GetData().GetDocuments().(type) {
	case *docwirev1.DataContent_Docs:
		response.Docs, err = decodeDocuments(data.Docs)
	case *docwirev1.DataContent_DocsBytes:
		list := &docwirev1.DocList{}
		if err = proto.Unmarshal(data.DocsBytes, list); err == nil {
			response.Docs, err = decodeDocuments(list)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("docwire: cannot read the documents of reply %s: %w", response.RequestID, err)
	}
	return response, nil
}

// replyError is the error a reply's status stands for, nil when it succeeded.
func replyError(header *docwirev1.Header) error {
	if header.GetStatus().GetCode() == docwirev1.Status_CODE_SUCCESS {
		return nil
	}
	return errorFromStatus(header.GetStatus(), header.GetRequestId())
}
