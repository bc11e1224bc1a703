package docwire

import (
	"fmt"
	"strings"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
)

// idType is docarray's type name of the id field's text node.
const idType = "id"

// encodeDocument is the wire form of d: one Node per non-zero field, as docarray
// encodes a document (see encodeValue).
func encodeDocument(d *Document) (*docwirev1.Doc, error) {
	data := make(map[string]*docwirev1.Node, len(d.Fields)+4)
	for _, name := range sortedKeys(d.Fields) {
		if declaredFields[name] {
			return nil, fmt.Errorf("field %q: set Document.%s, not Fields[%q]", name, goFieldName(name), name)
		}
		node, err := encodeValue(d.Fields[name])
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", name, err)
		}
		data[name] = node
	}
	if d.ID != "" {
		data[fieldID] = &docwirev1.Node{
			Content:      &docwirev1.Node_Text{Text: d.ID},
			DocarrayType: &docwirev1.Node_Type{Type: idType},
		}
	}
	if d.Text != "" {
		data[fieldText] = &docwirev1.Node{Content: &docwirev1.Node_Text{Text: d.Text}}
	}
	if d.URL != "" {
		data[fieldURL] = &docwirev1.Node{Content: &docwirev1.Node_Text{Text: d.URL}}
	}
	if d.Blob != nil {
		data[fieldBlob] = &docwirev1.Node{Content: &docwirev1.Node_Blob{Blob: d.Blob}}
	}
	nested := []struct {
		name   string
		encode func() (*docwirev1.Node, error)
		set    bool
	}{
		{fieldTensor, func() (*docwirev1.Node, error) { return tensorNode(d.Tensor, tensorType) }, d.Tensor != nil},
		{fieldEmbedding, func() (*docwirev1.Node, error) { return tensorNode(d.Embedding, embeddingType) }, d.Embedding != nil},
		{fieldTags, func() (*docwirev1.Node, error) { return dictNode(d.Tags) }, d.Tags != nil},
		{fieldMatches, func() (*docwirev1.Node, error) { return docListNode(d.Matches) }, d.Matches != nil},
		{fieldChunks, func() (*docwirev1.Node, error) { return docListNode(d.Chunks) }, d.Chunks != nil},
	}
	for _, field := range nested {
		if !field.set {
			continue
		}
		node, err := field.encode()
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", field.name, err)
		}
		data[field.name] = node
	}
	return &docwirev1.Doc{Data: data}, nil
}

func goFieldName(name string) string {
	switch name {
	case fieldID:
		return "ID"
	case fieldURL:
		return "URL"
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// encodeDocuments is the DocList of docs; an error names the document and field.
func encodeDocuments(docs []*Document) (*docwirev1.DocList, error) {
	list := &docwirev1.DocList{Docs: make([]*docwirev1.Doc, len(docs))}
	for i, d := range docs {
		if d == nil {
			return nil, fmt.Errorf("document %d is nil", i)
		}
		doc, err := encodeDocument(d)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		list.Docs[i] = doc
	}
	return list, nil
}

// decodeDocument reads a document of any schema: Document's own fields by name, every
// other field into Fields. A field of Document's that holds an unexpected kind of value
// is an error naming it.
func decodeDocument(message *docwirev1.Doc) (*Document, error) {
	d := &Document{}
	for _, name := range sortedKeys(message.GetData()) {
		if err := d.setField(name, message.GetData()[name]); err != nil {
			return nil, fmt.Errorf("field %q: %w", name, err)
		}
	}
	return d, nil
}

func (d *Document) setField(name string, node *docwirev1.Node) error {
	if node.GetContent() == nil {
		if !declaredFields[name] {
			d.setExtra(name, nil)
		}
		return nil
	}
	var err error
	switch name {
	case fieldID:
		d.ID, err = nodeText(node)
	case fieldText:
		d.Text, err = nodeText(node)
	case fieldURL:
		d.URL, err = nodeText(node)
	case fieldBlob:
		d.Blob, err = nodeBlob(node)
	case fieldTensor:
		d.Tensor, err = nodeTensor(node)
	case fieldEmbedding:
		d.Embedding, err = nodeTensor(node)
	case fieldTags:
		d.Tags, err = nodeDict(node)
	case fieldMatches:
		d.Matches, err = nodeDocuments(node)
	case fieldChunks:
		d.Chunks, err = nodeDocuments(node)
	default:
		var value any
		if value, err = decodeValue(node); err == nil {
			d.setExtra(name, value)
		}
	}
	return err
}

func (d *Document) setExtra(name string, value any) {
	if d.Fields == nil {
		d.Fields = make(map[string]any)
	}
	d.Fields[name] = value
}

func unexpected(want string, node *docwirev1.Node) error {
	return fmt.Errorf("expected %s, got %T", want, node.GetContent())
}

func nodeText(node *docwirev1.Node) (string, error) {
	if text, ok := node.GetContent().(*docwirev1.Node_Text); ok {
		return text.Text, nil
	}
	return "", unexpected("text", node)
}

func nodeBlob(node *docwirev1.Node) ([]byte, error) {
	if blob, ok := node.GetContent().(*docwirev1.Node_Blob); ok {
		return blob.Blob, nil
	}
	return nil, unexpected("blob", node)
}

func nodeTensor(node *docwirev1.Node) (*Tensor, error) {
	if array, ok := node.GetContent().(*docwirev1.Node_Ndarray); ok {
		return decodeTensor(array.Ndarray)
	}
	return nil, unexpected("ndarray", node)
}

func nodeDict(node *docwirev1.Node) (map[string]any, error) {
	if dict, ok := node.GetContent().(*docwirev1.Node_Dict); ok {
		return decodeDict(dict.Dict)
	}
	return nil, unexpected("dict", node)
}

func nodeDocuments(node *docwirev1.Node) ([]*Document, error) {
	if list, ok := node.GetContent().(*docwirev1.Node_DocArray); ok {
		return decodeDocuments(list.DocArray)
	}
	return nil, unexpected("doc_array", node)
}

// decodeDocuments reads every document of a DocList; an error names the document.
func decodeDocuments(list *docwirev1.DocList) ([]*Document, error) {
	docs := make([]*Document, len(list.GetDocs()))
	for i, message := range list.GetDocs() {
		d, err := decodeDocument(message)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		docs[i] = d
	}
	return docs, nil
}

// ToProto converts d to its docwire.v1.Doc wire form, for callers of the generated API.
func (d *Document) ToProto() (*docwirev1.Doc, error) {
	return encodeDocument(d)
}

// FromProto reads a docwire.v1.Doc of any schema into a Document.
func FromProto(message *docwirev1.Doc) (*Document, error) {
	return decodeDocument(message)
}
