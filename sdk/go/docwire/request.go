package docwire

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// Defaults of the Python client.
const (
	DefaultRequestSize = 100
	DefaultPrefetch    = 100
)

// PostOption configures one Post, PostStream or StreamDoc call.
type PostOption func(*postConfig)

type postConfig struct {
	parameters  map[string]any
	target      *string
	requestSize int
	prefetch    int
	timeout     time.Duration
}

// WithParameters sends parameters to the executors; "<executor>__<key>" keys reach only
// that executor. Values are anything encoding/json can encode.
func WithParameters(parameters map[string]any) PostOption {
	return func(c *postConfig) { c.parameters = parameters }
}

// WithTargetExecutor sends the request only to the executors whose name the regular
// expression matches (Python's re.match, evaluated by the gateway).
func WithTargetExecutor(pattern string) PostOption {
	return func(c *postConfig) { c.target = &pattern }
}

// WithRequestSize sets how many documents go in one request (default 100).
func WithRequestSize(n int) PostOption {
	return func(c *postConfig) { c.requestSize = n }
}

// WithPrefetch bounds how many requests of one stream are in flight at once (default 100).
func WithPrefetch(n int) PostOption {
	return func(c *postConfig) { c.prefetch = n }
}

// WithTimeout sets each request's deadline on the server (the header's timeout, in
// milliseconds). The call's context bounds the client's wait independently.
func WithTimeout(d time.Duration) PostOption {
	return func(c *postConfig) { c.timeout = d }
}

// requestTemplate holds what every request of one call shares, built once.
type requestTemplate struct {
	endpoint    string
	parameters  *structpb.Struct
	target      *string
	timeout     *uint32
	requestSize int
	prefetch    int
}

func newRequestTemplate(endpoint string, opts []PostOption) (*requestTemplate, error) {
	config := postConfig{requestSize: DefaultRequestSize, prefetch: DefaultPrefetch}
	for _, opt := range opts {
		opt(&config)
	}
	if config.requestSize < 1 {
		return nil, fmt.Errorf("docwire: request size must be at least 1, not %d", config.requestSize)
	}
	if config.prefetch < 1 {
		return nil, fmt.Errorf("docwire: prefetch must be at least 1, not %d", config.prefetch)
	}
	t := &requestTemplate{
		endpoint:    endpoint,
		target:      config.target,
		requestSize: config.requestSize,
		prefetch:    config.prefetch,
	}
	if config.timeout > 0 {
		ms := uint32(min(config.timeout.Milliseconds(), int64(^uint32(0))))
		t.timeout = proto.Uint32(max(ms, 1))
	}
	if config.parameters != nil {
		var err error
		if t.parameters, err = newStruct(config.parameters); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// newStruct converts parameters through JSON when structpb cannot take them directly
// (typed slices and maps, structs), so any JSON-encodable value works.
func newStruct(parameters map[string]any) (*structpb.Struct, error) {
	if s, err := structpb.NewStruct(parameters); err == nil {
		return s, nil
	}
	encoded, err := json.Marshal(parameters)
	if err != nil {
		return nil, fmt.Errorf("docwire: parameters cannot be encoded: %w", err)
	}
	s := &structpb.Struct{}
	if err := s.UnmarshalJSON(encoded); err != nil {
		return nil, fmt.Errorf("docwire: parameters cannot be encoded: %w", err)
	}
	return s, nil
}

func (t *requestTemplate) header() *docwirev1.Header {
	return &docwirev1.Header{
		RequestId:      newRequestID(),
		ExecEndpoint:   proto.String(t.endpoint),
		TargetExecutor: t.target,
		Timeout:        t.timeout,
	}
}

// request is one DataRequest carrying docs, serialized as the Python client sends them
// (data.docs_bytes: the gateway forwards the bytes without decoding them). An error
// names the document and field that cannot be encoded.
func (t *requestTemplate) request(docs []*Document) (*docwirev1.DataRequest, error) {
	list, err := encodeDocuments(docs)
	if err != nil {
		return nil, err
	}
	raw, err := proto.Marshal(list)
	if err != nil {
		return nil, err
	}
	return &docwirev1.DataRequest{
		Header:     t.header(),
		Parameters: t.parameters,
		Data:       &docwirev1.DataContent{Documents: &docwirev1.DataContent_DocsBytes{DocsBytes: raw}},
	}, nil
}

// singleRequest is the SingleDocumentRequest of a generator endpoint call.
func (t *requestTemplate) singleRequest(doc *Document) (*docwirev1.SingleDocumentRequest, error) {
	if doc == nil {
		doc = &Document{}
	}
	message, err := encodeDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("docwire: %w", err)
	}
	return &docwirev1.SingleDocumentRequest{Header: t.header(), Parameters: t.parameters, Document: message}, nil
}

// newRequestID is a random 128-bit id in hex, like the Python client's uuid4().hex.
func newRequestID() string {
	var id [16]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(id[:])
}
