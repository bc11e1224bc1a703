package docwire

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// fakeGateway is an in-process GatewayService (over bufconn: no sockets) whose replies
// the unit tests script: it echoes documents, raising for documents whose text is
// "raise", and answers Stream in bursts of `prefetch` requests, in reverse order.
type fakeGateway struct {
	docwirev1.UnimplementedGatewayServiceServer

	prefetch  int
	postError error             // returned by Post, with trailer
	trailer   map[string]string // trailing metadata of a failed Post
	dryRun    *docwirev1.Status
	streamed  []string // texts StreamDoc yields, then streamErr as a reply status
	streamErr *docwirev1.Status

	mu        sync.Mutex
	overflow  int           // requests that came while `prefetch` were unanswered
	cancelled chan struct{} // closed when a Stream call's context ends before its input does
}

// dialFake serves gateway over an in-memory listener and returns a client of it.
func dialFake(t *testing.T, gateway *fakeGateway) *Client {
	t.Helper()
	listener := bufconn.Listen(1 << 20)
	server := grpc.NewServer()
	docwirev1.RegisterGatewayServiceServer(server, gateway)
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	dialer := func(ctx context.Context, _ string) (net.Conn, error) { return listener.DialContext(ctx) }
	client, err := Dial(context.Background(), "grpc://127.0.0.1:1", WithGRPCOptions(grpc.WithContextDialer(dialer)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// echo is the reply to request: its documents back, an executor error if one says "raise".
func echo(request *docwirev1.DataRequest) (*docwirev1.DataRequest, error) {
	reply := proto.Clone(request).(*docwirev1.DataRequest)
	reply.Routes = []*docwirev1.Route{{Executor: "gateway"}, {Executor: "fake"}}
	list := &docwirev1.DocList{}
	if err := proto.Unmarshal(request.GetData().GetDocsBytes(), list); err != nil {
		return nil, err
	}
	for _, doc := range list.GetDocs() {
		if doc.GetData()["text"].GetText() == "raise" {
			reply.Header.Status = &docwirev1.Status{
				Code:        docwirev1.Status_CODE_ERROR,
				Description: "ValueError('asked to')",
				Exception:   &docwirev1.Status_Exception{Name: "ValueError", Args: []string{"asked to"}, Executor: "fake"},
			}
		}
	}
	return reply, nil
}

func (f *fakeGateway) Post(ctx context.Context, request *docwirev1.DataRequest) (*docwirev1.DataRequest, error) {
	if f.postError != nil {
		for key, value := range f.trailer {
			_ = grpc.SetTrailer(ctx, map[string][]string{key: {value}})
		}
		if errors.Is(f.postError, context.DeadlineExceeded) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, f.postError
	}
	return echo(request)
}

func (f *fakeGateway) Stream(stream grpc.BidiStreamingServer[docwirev1.DataRequest, docwirev1.DataRequest]) error {
	requests := make(chan *docwirev1.DataRequest)
	go func() {
		defer close(requests)
		for {
			request, err := stream.Recv()
			if err != nil {
				return
			}
			select {
			case requests <- request:
			case <-stream.Context().Done():
				return
			}
		}
	}()
	for open := true; open; {
		var pending []*docwirev1.DataRequest
		for open && len(pending) < f.prefetch {
			var request *docwirev1.DataRequest
			if request, open = <-requests; open {
				pending = append(pending, request)
			}
		}
		if open {
			// The client has `prefetch` requests unanswered: it must wait for replies now.
			// (A short look: a client that does not wait is caught almost surely, and a
			// correct one never fails this.)
			select {
			case request, ok := <-requests:
				if open = ok; ok {
					f.mu.Lock()
					f.overflow++
					f.mu.Unlock()
					pending = append(pending, request)
				}
			case <-time.After(20 * time.Millisecond):
			case <-stream.Context().Done():
				return f.noteCancelled(stream.Context())
			}
		}
		for i := len(pending) - 1; i >= 0; i-- {
			reply, err := echo(pending[i])
			if err != nil {
				return err
			}
			if err := stream.Send(reply); err != nil {
				return f.noteCancelled(stream.Context())
			}
		}
	}
	return f.noteCancelled(stream.Context())
}

func (f *fakeGateway) noteCancelled(ctx context.Context) error {
	if ctx.Err() != nil && f.cancelled != nil {
		close(f.cancelled)
	}
	return ctx.Err()
}

func (f *fakeGateway) StreamDoc(request *docwirev1.SingleDocumentRequest, stream grpc.ServerStreamingServer[docwirev1.SingleDocumentRequest]) error {
	for _, text := range f.streamed {
		doc, err := (&Document{Text: request.GetDocument().GetData()["text"].GetText() + " " + text}).ToProto()
		if err != nil {
			return err
		}
		if err := stream.Send(&docwirev1.SingleDocumentRequest{Header: request.GetHeader(), Document: doc}); err != nil {
			return err
		}
	}
	if f.streamErr != nil {
		return stream.Send(&docwirev1.SingleDocumentRequest{Header: &docwirev1.Header{Status: f.streamErr}})
	}
	return nil
}

func (f *fakeGateway) DryRun(context.Context, *emptypb.Empty) (*docwirev1.Status, error) {
	return f.dryRun, nil
}
