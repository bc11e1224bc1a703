package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/docwire/docwire/sdk/go/docwire"
	"google.golang.org/grpc/codes"
)

// The Flow's chain: first (two Appender replicas, default binding: appends "[first]" and
// returns a dict result), embedder (/embed), streamer (/hello), faulty (/fail, /ok).

func texts(docs []*docwire.Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Text
	}
	return out
}

func routeNames(routes []docwire.Route) []string {
	out := make([]string, len(routes))
	for i, r := range routes {
		out[i] = r.Executor
	}
	return out
}

func numbered(n int) []*docwire.Document {
	docs := make([]*docwire.Document, n)
	for i := range docs {
		docs[i] = &docwire.Document{Text: fmt.Sprintf("doc-%d", i)}
	}
	return docs
}

// wantEmbeddings checks each document's embedding is Embedder's [len(text), 0, 1, 2].
func wantEmbeddings(t *testing.T, docs []*docwire.Document) {
	t.Helper()
	for _, d := range docs {
		want := []float32{float32(len(d.Text)), 0, 1, 2}
		if d.Embedding == nil || !slices.Equal(d.Embedding.Shape, []int{4}) || !slices.Equal(d.Embedding.Values, want) {
			t.Errorf("document %q has embedding %+v, want shape [4] values %v", d.Text, d.Embedding, want)
		}
	}
}

func wantExecutorError(t *testing.T, err error) {
	t.Helper()
	var raised *docwire.ExecutorError
	if !errors.As(err, &raised) {
		t.Fatalf("error %v (%T), want an *ExecutorError", err, err)
	}
	if raised.Executor != "faulty" || raised.Name != "NotImplementedError" || !slices.Equal(raised.Args, []string{"no time for it"}) {
		t.Errorf("executor error %+v, want faulty's NotImplementedError('no time for it')", raised)
	}
	if !strings.Contains(raised.Traceback(), "NotImplementedError: no time for it") {
		t.Errorf("traceback does not end with the exception:\n%s", raised.Traceback())
	}
}

func wantKind(kind error, code codes.Code) func(*testing.T, *docwire.Result, error) {
	return func(t *testing.T, _ *docwire.Result, err error) {
		t.Helper()
		var failure *docwire.Error
		if !errors.Is(err, kind) || !errors.As(err, &failure) {
			t.Fatalf("error %v (%T), want an *Error of kind %v", err, err, kind)
		}
		if failure.Code != code {
			t.Errorf("code %v, want %v", failure.Code, code)
		}
	}
}

func TestPost(t *testing.T) {
	scenarios := []struct {
		name     string
		endpoint string
		docs     []*docwire.Document
		opts     []docwire.PostOption
		check    func(t *testing.T, result *docwire.Result, err error)
	}{
		{
			name: "through two executors", endpoint: "/embed", docs: docwire.Texts("x", "hello"),
			check: func(t *testing.T, result *docwire.Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if got := texts(result.Docs); !slices.Equal(got, []string{"x[first]", "hello[first]"}) {
					t.Errorf("texts %v", got)
				}
				wantEmbeddings(t, result.Docs)
				if got := routeNames(result.Routes); !slices.Equal(got, []string{"gateway", "first", "embedder"}) {
					t.Errorf("routes %v", got)
				}
				for _, route := range result.Routes {
					if route.Start.IsZero() || route.End.Before(route.Start) {
						t.Errorf("route %+v has no sensible times", route)
					}
				}
			},
		},
		{
			name: "parameters and results", endpoint: "/embed", docs: docwire.Texts("x"),
			opts: []docwire.PostOption{docwire.WithParameters(map[string]any{"top_k": 3, "names": []string{"a", "b"}})},
			check: func(t *testing.T, result *docwire.Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				sent := map[string]any{"top_k": 3.0, "names": []any{"a", "b"}}
				if result.Parameters["top_k"] != 3.0 {
					t.Errorf("parameters %v", result.Parameters)
				}
				results := result.Results()
				if len(results) != 1 {
					t.Fatalf("results %v, want one entry (first's)", results)
				}
				for key, value := range results {
					entry, _ := value.(map[string]any)
					replica := strings.TrimPrefix(key, "first/rep-")
					if key != "first/rep-0" && key != "first/rep-1" || fmt.Sprint(entry["replica"]) != replica {
						t.Errorf("result %q: %v", key, value)
					}
					if got := fmt.Sprint(entry["parameters"]); got != fmt.Sprint(sent) {
						t.Errorf("first saw parameters %s, want %v", got, sent)
					}
				}
			},
		},
		{
			name: "target executor", endpoint: "/embed", docs: docwire.Texts("x"),
			opts: []docwire.PostOption{docwire.WithTargetExecutor("embedder")},
			check: func(t *testing.T, result *docwire.Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if got := texts(result.Docs); !slices.Equal(got, []string{"x"}) {
					t.Errorf("texts %v, want [x]: first must not see the request", got)
				}
				wantEmbeddings(t, result.Docs)
				if got := routeNames(result.Routes); !slices.Equal(got, []string{"gateway", "embedder"}) {
					t.Errorf("routes %v", got)
				}
			},
		},
		{
			name: "untargeted unknown endpoint reaches the default binding", endpoint: "/nope", docs: docwire.Texts("x"),
			check: func(t *testing.T, result *docwire.Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if got := texts(result.Docs); !slices.Equal(got, []string{"x[first]"}) {
					t.Errorf("texts %v", got)
				}
			},
		},
		{
			name: "another executor's endpoint", endpoint: "/ok", docs: docwire.Texts("x", "y"),
			check: func(t *testing.T, result *docwire.Result, err error) {
				if err != nil || !slices.Equal(texts(result.Docs), []string{"ok", "ok"}) {
					t.Errorf("Post = %v, %v; want texts [ok ok]", result, err)
				}
			},
		},
		{
			name: "no documents", endpoint: "/embed",
			check: func(t *testing.T, result *docwire.Result, err error) {
				if err != nil || len(result.Docs) != 0 || len(result.Responses) != 1 {
					t.Errorf("Post = %+v, %v; want one reply without documents", result, err)
				}
			},
		},
		{
			name: "executor error, one request", endpoint: "/fail", docs: docwire.Texts("x"),
			check: func(t *testing.T, _ *docwire.Result, err error) { wantExecutorError(t, err) },
		},
		{
			name: "executor error, streamed", endpoint: "/fail", docs: numbered(5),
			opts:  []docwire.PostOption{docwire.WithRequestSize(2)},
			check: func(t *testing.T, _ *docwire.Result, err error) { wantExecutorError(t, err) },
		},
		{
			name: "unknown endpoint of the target, one request", endpoint: "/nope", docs: docwire.Texts("x"),
			opts:  []docwire.PostOption{docwire.WithTargetExecutor("embedder")},
			check: wantKind(docwire.ErrEndpointNotFound, codes.NotFound),
		},
		{
			name: "unknown endpoint of the target, streamed", endpoint: "/nope", docs: numbered(3),
			opts:  []docwire.PostOption{docwire.WithTargetExecutor("embedder"), docwire.WithRequestSize(1)},
			check: wantKind(docwire.ErrEndpointNotFound, codes.OK),
		},
		{
			name: "target matching no executor", endpoint: "/embed", docs: docwire.Texts("x"),
			opts:  []docwire.PostOption{docwire.WithTargetExecutor("nobody")},
			check: wantKind(docwire.ErrEndpointNotFound, codes.NotFound),
		},
		{
			name: "invalid target pattern", endpoint: "/embed", docs: docwire.Texts("x"),
			opts:  []docwire.PostOption{docwire.WithTargetExecutor("(")},
			check: wantKind(docwire.ErrBadRequest, codes.InvalidArgument),
		},
		{
			name: "many requests come back in input order", endpoint: "/default", docs: numbered(500),
			opts: []docwire.PostOption{docwire.WithRequestSize(7)},
			check: func(t *testing.T, result *docwire.Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				want := make([]string, 500)
				for i := range want {
					want[i] = fmt.Sprintf("doc-%d[first]", i)
				}
				if got := texts(result.Docs); !slices.Equal(got, want) {
					t.Errorf("texts out of order: %v...", got[:10])
				}
				if len(result.Responses) != 72 {
					t.Errorf("%d replies, want 72 (500 documents in requests of 7)", len(result.Responses))
				}
				replicas := map[string]bool{}
				for _, response := range result.Responses {
					for key := range response.Results() {
						replicas[key] = true
					}
				}
				if !replicas["first/rep-0"] || !replicas["first/rep-1"] {
					t.Errorf("replicas used: %v, want both of first's", replicas)
				}
			},
		},
	}
	client := dial(t)
	for _, scenario := range scenarios {
		t.Run(scenario.name, func(t *testing.T) {
			result, err := client.Post(testContext(t), scenario.endpoint, scenario.docs, scenario.opts...)
			scenario.check(t, result, err)
		})
	}
}

func TestPostStreamBoundsInFlightRequests(t *testing.T) {
	client := dial(t)
	const total, size, prefetch = 500, 7, 3
	var produced atomic.Int64 // the sender pulls documents on its own goroutine
	docs := func(yield func(*docwire.Document) bool) {
		for i := range total {
			produced.Add(1)
			if !yield(&docwire.Document{Text: fmt.Sprintf("doc-%d", i)}) {
				return
			}
		}
	}
	seen := map[int]bool{}
	received := 0
	for response, err := range client.PostStream(testContext(t), "/default", docs, docwire.WithRequestSize(size), docwire.WithPrefetch(prefetch)) {
		if err != nil {
			t.Fatal(err)
		}
		// Ahead of the replies handled so far: this reply's request, the 3 (prefetch) sent
		// since its slot was freed, and the batch the sender is filling.
		if ahead := int(produced.Load()) - received*size; ahead > (1+prefetch+1)*size {
			t.Errorf("%d documents were pulled ahead of the replies, want at most %d", ahead, (1+prefetch+1)*size)
		}
		if seen[response.Index] {
			t.Errorf("reply %d came twice", response.Index)
		}
		seen[response.Index] = true
		for i, d := range response.Docs {
			if want := fmt.Sprintf("doc-%d[first]", response.Index*size+i); d.Text != want {
				t.Errorf("reply %d document %d is %q, want %q", response.Index, i, d.Text, want)
			}
		}
		received++
	}
	if received != 72 || produced.Load() != total {
		t.Errorf("%d replies for %d documents, want 72 for %d", received, produced.Load(), total)
	}
}
