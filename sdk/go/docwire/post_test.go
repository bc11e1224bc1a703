package docwire

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func numbered(n int) []*Document {
	docs := make([]*Document, n)
	for i := range docs {
		docs[i] = &Document{Text: fmt.Sprint(i)}
	}
	return docs
}

func texts(docs []*Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Text
	}
	return out
}

func TestPostStreamsInInputOrderWithinPrefetch(t *testing.T) {
	gateway := &fakeGateway{prefetch: 4}
	client := dialFake(t, gateway)
	docs := numbered(50)

	result, err := client.Post(context.Background(), "/x", docs, WithRequestSize(3), WithPrefetch(4))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := texts(result.Docs), texts(docs); !slices.Equal(got, want) {
		t.Errorf("documents came back as %v, want input order %v", got, want)
	}
	if len(result.Responses) != 17 {
		t.Errorf("got %d replies, want 17 (50 documents in requests of 3)", len(result.Responses))
	}
	for i, response := range result.Responses {
		if response.Index != i {
			t.Errorf("reply %d has index %d", i, response.Index)
		}
	}
	if gateway.overflow != 0 {
		t.Errorf("%d requests were sent while 4 (the prefetch) were unanswered", gateway.overflow)
	}
}

func TestPostSendsOneUnaryRequestWhenTheDocumentsFit(t *testing.T) {
	// With prefetch 0, the fake's Stream counts every request it gets as an overflow.
	gateway := &fakeGateway{}
	client := dialFake(t, gateway)
	for _, docs := range [][]*Document{nil, numbered(1), numbered(100)} {
		result, err := client.Post(context.Background(), "/x", docs)
		if err != nil {
			t.Fatal(err)
		}
		if len(result.Responses) != 1 || len(result.Docs) != len(docs) {
			t.Errorf("%d documents: %d replies with %d documents, want 1 with %d", len(docs), len(result.Responses), len(result.Docs), len(docs))
		}
		if got := []string{result.Routes[0].Executor, result.Routes[1].Executor}; !slices.Equal(got, []string{"gateway", "fake"}) {
			t.Errorf("routes %v", got)
		}
	}
	if gateway.overflow != 0 {
		t.Errorf("%d requests went over the Stream rpc, want none", gateway.overflow)
	}
}

func TestPostStreamYieldsReplyErrorsAndGoesOn(t *testing.T) {
	client := dialFake(t, &fakeGateway{prefetch: 2})
	docs := numbered(9)
	docs[4].Text = "raise"

	var indexes []int
	var failed []int
	for response, err := range client.PostStream(context.Background(), "/x", slices.Values(docs), WithRequestSize(2)) {
		if response == nil {
			t.Fatalf("stream ended: %v", err)
		}
		indexes = append(indexes, response.Index)
		var executorError *ExecutorError
		if errors.As(err, &executorError) {
			failed = append(failed, response.Index)
			if executorError.Executor != "fake" || executorError.Name != "ValueError" || executorError.RequestID != response.RequestID {
				t.Errorf("executor error %+v", executorError)
			}
		} else if err != nil {
			t.Errorf("reply %d: unexpected error %v", response.Index, err)
		}
	}
	slices.Sort(indexes)
	if !slices.Equal(indexes, []int{0, 1, 2, 3, 4}) || !slices.Equal(failed, []int{2}) {
		t.Errorf("replies %v, failed %v; want 0-4 with 2 failed", indexes, failed)
	}

	_, err := client.Post(context.Background(), "/x", docs, WithRequestSize(2))
	var executorError *ExecutorError
	if !errors.As(err, &executorError) || executorError.Message != "ValueError('asked to')" {
		t.Errorf("Post error = %v, want the executor's ValueError", err)
	}
}

func TestPostStreamReportsDocumentsItCannotEncode(t *testing.T) {
	client := dialFake(t, &fakeGateway{prefetch: 2})
	docs := numbered(12)
	docs[10].Tags = map[string]any{"bad": make(chan int)}

	var err error
	received := 0
	for response, e := range client.PostStream(context.Background(), "/x", slices.Values(docs), WithRequestSize(3)) {
		if response != nil {
			received++
		}
		err = e
	}
	if err == nil || !strings.Contains(err.Error(), `request 3: document 1: field "tags": key "bad"`) {
		t.Errorf("error = %v, want one naming request 3, document 1, tags", err)
	}
	if received > 3 {
		t.Errorf("%d replies before the failure, want at most 3", received)
	}
}

func TestBreakingOutOfPostStreamCancelsTheCall(t *testing.T) {
	gateway := &fakeGateway{prefetch: 2, cancelled: make(chan struct{})}
	client := dialFake(t, gateway)
	endless := func(yield func(*Document) bool) {
		for i := 0; yield(&Document{Text: fmt.Sprint(i)}); i++ {
		}
	}
	for response, err := range client.PostStream(context.Background(), "/x", endless) {
		if err != nil {
			t.Fatal(err)
		}
		if response.Index == 0 {
			break
		}
	}
	select {
	case <-gateway.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the server's Stream call was not cancelled after the loop ended")
	}
}

func TestStreamDoc(t *testing.T) {
	client := dialFake(t, &fakeGateway{streamed: []string{"0", "1", "2"}})
	var got []string
	for doc, err := range client.StreamDoc(context.Background(), "/hello", &Document{Text: "hi"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, doc.Text)
	}
	if want := []string{"hi 0", "hi 1", "hi 2"}; !slices.Equal(got, want) {
		t.Errorf("StreamDoc yielded %v, want %v", got, want)
	}
}

func TestStreamDocEndsWithTheExecutorsError(t *testing.T) {
	raised := &ExecutorError{Name: "KeyError", Message: "KeyError('x')", Args: []string{"x"}, Executor: "gen"}
	client := dialFake(t, &fakeGateway{streamed: []string{"0"}, streamErr: executorStatus(raised)})
	var got []string
	var err error
	for doc, e := range client.StreamDoc(context.Background(), "/hello", &Document{Text: "hi"}) {
		if e != nil {
			err = e
			continue
		}
		got = append(got, doc.Text)
	}
	var executorError *ExecutorError
	if !slices.Equal(got, []string{"hi 0"}) || !errors.As(err, &executorError) || executorError.Name != "KeyError" {
		t.Errorf("StreamDoc yielded %v then %v, want [hi 0] then the KeyError", got, err)
	}
}

func TestPostRejectsBadOptions(t *testing.T) {
	client := dialFake(t, &fakeGateway{})
	for _, opt := range []PostOption{WithRequestSize(0), WithPrefetch(0), WithParameters(map[string]any{"f": func() {}})} {
		if _, err := client.Post(context.Background(), "/x", nil, opt); err == nil {
			t.Errorf("Post accepted a bad option")
		}
	}
}

func TestRequestCarriesTheOptions(t *testing.T) {
	template, err := newRequestTemplate("/search", []PostOption{
		WithParameters(map[string]any{"top_k": 3, "names": []string{"a"}}),
		WithTargetExecutor("enc.*"),
		WithTimeout(1500 * time.Millisecond),
	})
	if err != nil {
		t.Fatal(err)
	}
	request, err := template.request(Texts("q"))
	if err != nil {
		t.Fatal(err)
	}
	header := request.GetHeader()
	if header.GetExecEndpoint() != "/search" || header.GetTargetExecutor() != "enc.*" || header.GetTimeout() != 1500 || len(header.GetRequestId()) != 32 {
		t.Errorf("header %v", header)
	}
	parameters := request.GetParameters().AsMap()
	if parameters["top_k"] != 3.0 || !slices.Equal(parameters["names"].([]any), []any{"a"}) {
		t.Errorf("parameters %v", parameters)
	}
	if request.GetData().GetDocsBytes() == nil {
		t.Error("documents are not sent as docs_bytes")
	}
}
