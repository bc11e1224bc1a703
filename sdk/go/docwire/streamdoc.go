package docwire

import (
	"context"
	"errors"
	"io"
	"iter"
)

// StreamDoc sends doc to a generator endpoint (an executor method that yields) and
// yields each document as the executor produces it. WithParameters, WithTargetExecutor
// and WithTimeout apply; an error is yielded once and ends the stream, and breaking out
// of the loop cancels the call.
func (c *Client) StreamDoc(ctx context.Context, endpoint string, doc *Document, opts ...PostOption) iter.Seq2[*Document, error] {
	return func(yield func(*Document, error) bool) {
		template, err := newRequestTemplate(endpoint, opts)
		if err != nil {
			yield(nil, err)
			return
		}
		request, err := template.singleRequest(doc)
		if err != nil {
			yield(nil, err)
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		call, err := c.gateway.StreamDoc(ctx, request)
		if err != nil {
			yield(nil, c.rpcError(ctx, err, nil))
			return
		}
		for {
			reply, err := call.Recv()
			switch {
			case errors.Is(err, io.EOF):
				return
			case err != nil:
				yield(nil, c.rpcError(ctx, err, call.Trailer()))
				return
			}
			if err := replyError(reply.GetHeader()); err != nil {
				yield(nil, err)
				return
			}
			produced, err := decodeDocument(reply.GetDocument())
			if !yield(produced, err) || err != nil {
				return
			}
		}
	}
}
