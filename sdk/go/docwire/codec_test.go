package docwire

import (
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"
)

// roundTrip encodes d, serializes and parses the message as the wire would, and decodes it.
func roundTrip(t *testing.T, d *Document) *Document {
	t.Helper()
	message, err := d.ToProto()
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	raw, err := proto.Marshal(message)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	parsed := &docwirev1.Doc{}
	if err := proto.Unmarshal(raw, parsed); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	decoded, err := FromProto(parsed)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return decoded
}

func TestDocumentRoundTrip(t *testing.T) {
	type myText string
	tests := []struct {
		name string
		in   *Document
		want *Document // nil: the same as in
	}{
		{name: "empty", in: &Document{}},
		{name: "text and id", in: &Document{ID: "a1", Text: "hello"}},
		{name: "url and blob", in: &Document{URL: "https://example.com/x.png", Blob: []byte{0, 1, 255}}},
		{name: "tensors", in: &Document{
			Tensor:    NewTensor([]float32{1, 2, 3, 4, 5, 6}, 2, 3),
			Embedding: NewTensor([]float32{0.5, -1, float32(math.Inf(1))}),
		}},
		{name: "scalar tensor", in: &Document{Tensor: &Tensor{Values: []float32{7}, Shape: []int{}}}},
		{name: "empty tensor", in: &Document{Tensor: &Tensor{Values: []float32{}, Shape: []int{0, 3}}}},
		{name: "tags", in: &Document{Tags: map[string]any{
			"s": "x", "n": 3, "f": 0.25, "ok": true, "none": nil, "raw": []byte("b"),
			"list": []any{1, "a", []any{false}}, "dict": map[string]any{"k": map[string]any{}},
		}}},
		{name: "empty tags", in: &Document{Tags: map[string]any{}}},
		{name: "typed tag values", in: &Document{Tags: map[string]any{
			"i8": int8(-3), "u16": uint16(9), "i64": int64(math.MinInt32), "f32": float32(0.5),
			"strings": []string{"a", "b"}, "ints": map[string]int{"x": 1}, "named": myText("t"),
		}}, want: &Document{Tags: map[string]any{
			"i8": -3, "u16": 9, "i64": math.MinInt32, "f32": 0.5,
			"strings": []any{"a", "b"}, "ints": map[string]any{"x": 1}, "named": "t",
		}}},
		{name: "nested documents", in: &Document{
			Text:    "q",
			Matches: []*Document{{ID: "m1", Text: "first", Embedding: NewTensor([]float32{1})}, {ID: "m2"}},
			Chunks:  []*Document{{Text: "c", Chunks: []*Document{{Text: "cc"}}}},
		}},
		{name: "empty nested lists", in: &Document{Matches: []*Document{}, Chunks: []*Document{}}},
		{name: "other fields", in: &Document{Fields: map[string]any{
			"count": 3, "label": "x", "inner": &Document{Text: "in"}, "many": []*Document{{Text: "m"}},
			"vector": NewTensor([]float32{1, 2}), "nothing": nil,
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == nil {
				want = tt.in
			}
			got := roundTrip(t, tt.in)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeDocumentWireForm(t *testing.T) {
	d := &Document{
		ID:        "a1",
		Text:      "hi",
		Embedding: NewTensor([]float32{1, 0.5}),
		Tags:      map[string]any{"n": 2},
		Matches:   []*Document{{Text: "m"}},
	}
	want := &docwirev1.Doc{}
	wire := `
		data { key: "id" value { text: "a1" type: "id" } }
		data { key: "text" value { text: "hi" } }
		data { key: "embedding" value {
			ndarray { dense { buffer: "\x00\x00\x80\x3f\x00\x00\x00\x3f" shape: 2 dtype: "<f4" } }
			type: "ndarray_embedding"
		} }
		data { key: "tags" value { dict { data { key: "n" value { integer: 2 } } } } }
		data { key: "matches" value { doc_array { docs { data { key: "text" value { text: "m" } } } } } }
	`
	if err := prototext.Unmarshal([]byte(wire), want); err != nil {
		t.Fatal(err)
	}
	got, err := d.ToProto()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("wire form (-want +got):\n%s", diff)
	}
}

// TestDecodePythonDocument reads a document the Python client encoded: every field,
// None fields as empty nodes, a float64 tensor and an ndarray_embedding.
func TestDecodePythonDocument(t *testing.T) {
	text, err := os.ReadFile("testdata/python_document.txtpb")
	if err != nil {
		t.Fatal(err)
	}
	message := &docwirev1.Doc{}
	if err := prototext.Unmarshal(text, message); err != nil {
		t.Fatal(err)
	}
	got, err := FromProto(message)
	if err != nil {
		t.Fatal(err)
	}
	want := &Document{
		ID:        "doc-1",
		Text:      "hello",
		URL:       "https://example.com/a.png",
		Blob:      []byte{0, 1},
		Tensor:    NewTensor([]float32{0, 1, 2, 3, 4, 5}, 2, 3),
		Embedding: NewTensor([]float32{0.5, -1, 2}),
		Tags: map[string]any{
			"n": 3, "f": 0.25, "ok": true, "s": "x", "l": []any{1, "a"}, "d": map[string]any{"k": nil},
		},
		Matches: []*Document{{ID: "m-1", Text: "match", Tags: map[string]any{}, Fields: map[string]any{"scores": nil}}},
		Chunks:  []*Document{},
		Fields:  map[string]any{"scores": nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}

func TestDecodeTensorDtypes(t *testing.T) {
	tests := []struct {
		dtype  string
		buffer []byte
		want   []float32
	}{
		{"<f4", []byte{0, 0, 0x80, 0x3f}, []float32{1}},
		{">f4", []byte{0x3f, 0x80, 0, 0}, []float32{1}},
		{"<f8", []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x3f}, []float32{1.5}},
		{"|u1", []byte{255}, []float32{255}},
		{"|i1", []byte{255}, []float32{-1}},
		{"<i4", []byte{0xfe, 0xff, 0xff, 0xff}, []float32{-2}},
		{"<i8", []byte{3, 0, 0, 0, 0, 0, 0, 0}, []float32{3}},
		{"<u2", []byte{1, 1}, []float32{257}},
	}
	for _, tt := range tests {
		t.Run(tt.dtype, func(t *testing.T) {
			got, err := decodeTensor(&docwirev1.NdArray{Dense: &docwirev1.DenseNdArray{Buffer: tt.buffer, Shape: []uint32{1}, Dtype: tt.dtype}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Values, tt.want) || !reflect.DeepEqual(got.Shape, []int{1}) {
				t.Errorf("decodeTensor(%s) = %+v, want values %v shape [1]", tt.dtype, got, tt.want)
			}
		})
	}
}

func TestDecodeTensorRejects(t *testing.T) {
	tests := []struct {
		name  string
		dense *docwirev1.DenseNdArray
		says  string
	}{
		{"complex", &docwirev1.DenseNdArray{Buffer: make([]byte, 8), Shape: []uint32{1}, Dtype: "<c8"}, "unsupported tensor dtype"},
		{"object", &docwirev1.DenseNdArray{Shape: []uint32{0}, Dtype: "|O"}, "unsupported tensor dtype"},
		{"ragged buffer", &docwirev1.DenseNdArray{Buffer: make([]byte, 5), Shape: []uint32{1}, Dtype: "<f4"}, "malformed"},
		{"shape mismatch", &docwirev1.DenseNdArray{Buffer: make([]byte, 8), Shape: []uint32{3}, Dtype: "<f4"}, "holds 3 values, not 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeTensor(&docwirev1.NdArray{Dense: tt.dense})
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("decodeTensor error = %v, want one saying %q", err, tt.says)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   *Document
		says string
	}{
		{"int64 out of range", &Document{Tags: map[string]any{"big": int64(1) << 40}}, `field "tags": key "big": integer 1099511627776 is out of the int32 range`},
		{"uint out of range", &Document{Tags: map[string]any{"big": uint32(math.MaxUint32)}}, "out of the int32 range"},
		{"declared name in Fields", &Document{Fields: map[string]any{"text": "x"}}, `set Document.Text, not Fields["text"]`},
		{"tensor shape", &Document{Embedding: NewTensor([]float32{1, 2, 3}, 2, 2)}, `field "embedding": shape [2 2] holds 4 values, not 3`},
		{"negative dimension", &Document{Tensor: &Tensor{Shape: []int{-1}}}, "out of range"},
		{"channel", &Document{Fields: map[string]any{"c": make(chan int)}}, "chan int cannot be encoded"},
		{"int keys", &Document{Tags: map[string]any{"m": map[int]string{1: "a"}}}, "keys must be strings"},
		{"nil match", &Document{Matches: []*Document{nil}}, `field "matches": document 0 is nil`},
		{"nested error", &Document{Chunks: []*Document{{}, {Tags: map[string]any{"f": func() {}}}}}, `field "chunks": document 1: field "tags": key "f"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.ToProto()
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("ToProto error = %v, want one saying %q", err, tt.says)
			}
		})
	}
}

func TestDecodeRejectsWrongKinds(t *testing.T) {
	message := &docwirev1.Doc{Data: map[string]*docwirev1.Node{
		"text": {Content: &docwirev1.Node_Integer{Integer: 1}},
	}}
	_, err := FromProto(message)
	if err == nil || !strings.Contains(err.Error(), `field "text": expected text`) {
		t.Errorf("FromProto error = %v, want one naming the text field", err)
	}
}

func TestTexts(t *testing.T) {
	got := Texts("a", "b")
	want := []*Document{{Text: "a"}, {Text: "b"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Texts (-want +got):\n%s", diff)
	}
}
