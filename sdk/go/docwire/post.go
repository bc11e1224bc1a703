package docwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"sync"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Post sends docs to endpoint (for example "/index") in requests of WithRequestSize
// documents and returns every reply's documents in input order, with the first reply's
// parameters (executors' results under "__results__") and routes.
//
// Documents that fit in one request go as one unary call; more stream over one
// bidirectional call with at most WithPrefetch requests in flight (see PostStream).
// No documents still call the endpoint once.
//
// An exception an executor raised is an *ExecutorError; a failure the gateway reports
// is an *Error matching one of the Err* kinds (errors.Is(err, ErrEndpointNotFound)).
func (c *Client) Post(ctx context.Context, endpoint string, docs []*Document, opts ...PostOption) (*Result, error) {
	template, err := newRequestTemplate(endpoint, opts)
	if err != nil {
		return nil, err
	}
	if len(docs) <= template.requestSize {
		response, err := c.postOne(ctx, template, docs)
		if err != nil {
			return nil, err
		}
		return newResult([]*Response{response}), nil
	}
	responses := make([]*Response, 0, (len(docs)+template.requestSize-1)/template.requestSize)
	for response, err := range c.stream(ctx, template, slices.Values(docs)) {
		if err != nil {
			return nil, err
		}
		responses = append(responses, response)
	}
	slices.SortFunc(responses, func(a, b *Response) int { return a.Index - b.Index })
	return newResult(responses), nil
}

// postOne sends one request as one unary Post call: the shortest path for a single batch.
func (c *Client) postOne(ctx context.Context, template *requestTemplate, docs []*Document) (*Response, error) {
	request, err := template.request(docs)
	if err != nil {
		return nil, fmt.Errorf("docwire: %w", err)
	}
	var trailer metadata.MD
	reply, err := c.gateway.Post(ctx, request, grpc.Trailer(&trailer))
	if err != nil {
		return nil, c.rpcError(ctx, err, trailer)
	}
	if err := replyError(reply.GetHeader()); err != nil {
		return nil, err
	}
	return decodeReply(reply, 0)
}

// PostStream sends the documents docs yields to endpoint in requests of WithRequestSize
// documents over one bidirectional call, sending and receiving at once, with at most
// WithPrefetch requests in flight: documents are pulled from docs only as replies come
// back, so an endless or huge sequence never sits in memory.
//
// It yields each reply as it arrives (Response.Index gives the request's position).
// A reply reporting an error (an executor raised, or the gateway could not route that
// request) is yielded with its error, and the stream goes on if the loop continues;
// any other error is yielded once, with a nil response, and ends the stream. Breaking
// out of the loop cancels the call.
func (c *Client) PostStream(ctx context.Context, endpoint string, docs iter.Seq[*Document], opts ...PostOption) iter.Seq2[*Response, error] {
	template, err := newRequestTemplate(endpoint, opts)
	if err != nil {
		return func(yield func(*Response, error) bool) { yield(nil, err) }
	}
	return c.streamReplies(ctx, template, docs)
}

// stream is PostStream for Post: it stops at the first error a reply reports.
func (c *Client) stream(ctx context.Context, template *requestTemplate, docs iter.Seq[*Document]) iter.Seq2[*Response, error] {
	return func(yield func(*Response, error) bool) {
		for response, err := range c.streamReplies(ctx, template, docs) {
			if !yield(response, err) || err != nil {
				return
			}
		}
	}
}

func (c *Client) streamReplies(ctx context.Context, template *requestTemplate, docs iter.Seq[*Document]) iter.Seq2[*Response, error] {
	return func(yield func(*Response, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		s := &sender{template: template, slots: make(chan struct{}, template.prefetch), index: map[string]int{}, cancel: cancel}
		var wg sync.WaitGroup
		defer func() {
			cancel()
			wg.Wait()
		}()
		call, err := c.gateway.Stream(ctx)
		if err != nil {
			yield(nil, c.rpcError(ctx, err, nil))
			return
		}
		wg.Go(func() { s.run(ctx, call, docs) })
		for {
			reply, err := call.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if failure := s.failure(); failure != nil {
					yield(nil, failure)
				} else {
					yield(nil, c.rpcError(ctx, err, call.Trailer()))
				}
				return
			}
			s.release()
			response, err := decodeReply(reply, s.indexOf(reply.GetHeader().GetRequestId()))
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(response, replyError(reply.GetHeader())) {
				return
			}
		}
		if failure := s.failure(); failure != nil {
			yield(nil, failure)
		}
	}
}

// sender writes the requests of one stream, waiting for a free slot before each: the
// receiving side frees one per reply, so at most cap(slots) requests are in flight.
type sender struct {
	template *requestTemplate
	slots    chan struct{}
	cancel   context.CancelFunc

	mu    sync.Mutex
	index map[string]int // request id -> position, read back when its reply comes
	err   error          // why sending stopped early, when the cause is on this side
}

type requestStream = grpc.BidiStreamingClient[docwirev1.DataRequest, docwirev1.DataRequest]

func (s *sender) run(ctx context.Context, call requestStream, docs iter.Seq[*Document]) {
	size := s.template.requestSize
	batch := make([]*Document, 0, size)
	sent := 0
	for doc := range docs {
		batch = append(batch, doc)
		if len(batch) < size {
			continue
		}
		if !s.send(ctx, call, batch, sent) {
			return
		}
		sent++
		batch = make([]*Document, 0, size)
	}
	// No documents at all still make one (empty) request, as with the Python client.
	if len(batch) > 0 || sent == 0 {
		if !s.send(ctx, call, batch, sent) {
			return
		}
	}
	_ = call.CloseSend()
}

// send writes one request; false means stop (the receiving side reports why).
func (s *sender) send(ctx context.Context, call requestStream, batch []*Document, position int) bool {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	request, err := s.template.request(batch)
	if err != nil {
		s.fail(fmt.Errorf("docwire: request %d: %w", position, err))
		return false
	}
	s.mu.Lock()
	s.index[request.GetHeader().GetRequestId()] = position
	s.mu.Unlock()
	// A failed send means the call is over; Recv returns its status.
	return call.Send(request) == nil
}

// release frees the slot of a request whose reply came.
func (s *sender) release() {
	select {
	case <-s.slots:
	default: // more replies than requests: a server bug, not worth blocking on
	}
}

func (s *sender) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	s.cancel()
}

func (s *sender) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *sender) indexOf(requestID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	position, ok := s.index[requestID]
	if !ok {
		return -1
	}
	delete(s.index, requestID)
	return position
}
