package docwire

// Document is a docarray document as docwire's untyped endpoints see it (Python's
// docwire.Document: id, text, url, blob, tensor, embedding, tags, matches, chunks).
// Zero fields are not sent. Executors with their own schema read the fields they
// declare and ignore the others.
type Document struct {
	// ID identifies the document; empty lets the receiver assign a random one.
	ID string
	// Text is the document's text.
	Text string
	// URL points at the document's content.
	URL string
	// Blob is raw content.
	Blob []byte
	// Tensor is the document's content as an array.
	Tensor *Tensor
	// Embedding is the document's vector.
	Embedding *Tensor
	// Tags are free-form values; see [Document.Fields] for the Go types allowed.
	Tags map[string]any
	// Matches are documents found for this one, for example by a search.
	Matches []*Document
	// Chunks are the parts of this document.
	Chunks []*Document
	// Fields holds any other field by name, for executors with their own schemas
	// (for example "count" or "scores"). Values may be nil, string, bool, any integer
	// type (int32 range), float32, float64, []byte, *Tensor, *Document, []*Document,
	// slices and maps with string keys of those; decoding gives string, bool, int,
	// float64, []byte, *Tensor, *Document, []*Document, []any and map[string]any.
	Fields map[string]any
}

// The names of the fields Document declares, as they travel.
const (
	fieldID        = "id"
	fieldText      = "text"
	fieldURL       = "url"
	fieldBlob      = "blob"
	fieldTensor    = "tensor"
	fieldEmbedding = "embedding"
	fieldTags      = "tags"
	fieldMatches   = "matches"
	fieldChunks    = "chunks"
)

// declaredFields are the wire names of Document's own fields: Fields may not use them.
var declaredFields = map[string]bool{
	fieldID: true, fieldText: true, fieldURL: true, fieldBlob: true, fieldTensor: true,
	fieldEmbedding: true, fieldTags: true, fieldMatches: true, fieldChunks: true,
}

// Texts returns one document per text, for the common case of posting plain texts.
func Texts(texts ...string) []*Document {
	docs := make([]*Document, len(texts))
	for i, text := range texts {
		docs[i] = &Document{Text: text}
	}
	return docs
}
