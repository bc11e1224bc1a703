package docwire

import (
	"flag"
	"os"
	"testing"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

var update = flag.Bool("update", false, "rewrite testdata/go_documents.binpb from goldenDocuments")

// goldenPath holds goldenDocuments as this package encodes them: a serialized DocList that
// tests/conformance/test_go_sdk.py decodes with the Python client and with docarray.
const goldenPath = "testdata/go_documents.binpb"

// goldenDocuments use every field of Document; test_go_sdk.py checks the same values.
func goldenDocuments() []*Document {
	return []*Document{{
		ID:        "go-1",
		Text:      "hello from Go",
		URL:       "https://example.com/a.png",
		Blob:      []byte{0, 1, 2},
		Tensor:    NewTensor([]float32{1, 2, 3, 4, 5, 6}, 2, 3),
		Embedding: NewTensor([]float32{0.5, -1, 2}),
		Tags:      map[string]any{"n": 3, "f": 0.25, "ok": true, "s": "x", "l": []any{1, "a"}, "d": map[string]any{"k": nil}},
		Matches:   []*Document{{ID: "m-1", Text: "match", Embedding: NewTensor([]float32{1, 0})}},
		Chunks:    []*Document{{ID: "c-1", Text: "chunk"}},
	}}
}

func TestGoldenDocumentsAreUpToDate(t *testing.T) {
	list, err := encodeDocuments(goldenDocuments())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	stored := &docwirev1.DocList{}
	if err := proto.Unmarshal(raw, stored); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stored, list, protocmp.Transform()); diff != "" {
		t.Errorf("%s is stale (-stored +encoded now); run `go test ./docwire -run Golden -update`:\n%s", goldenPath, diff)
	}
}
