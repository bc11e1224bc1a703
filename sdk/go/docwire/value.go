package docwire

import (
	"fmt"
	"math"
	"reflect"
	"sort"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
)

// encodeValue is the Node of one field value, following docarray: string -> text,
// bool -> boolean, integers -> integer (int32), floats -> float, []byte -> blob,
// *Tensor -> ndarray, *Document -> doc, []*Document -> doc_array, other slices -> list,
// maps with string keys -> dict, nil -> an empty node (None).
func encodeValue(value any) (*docwirev1.Node, error) {
	switch v := value.(type) {
	case nil:
		return &docwirev1.Node{}, nil
	case string:
		return &docwirev1.Node{Content: &docwirev1.Node_Text{Text: v}}, nil
	case bool:
		return &docwirev1.Node{Content: &docwirev1.Node_Boolean{Boolean: v}}, nil
	case float64:
		return &docwirev1.Node{Content: &docwirev1.Node_Float{Float: v}}, nil
	case float32:
		return &docwirev1.Node{Content: &docwirev1.Node_Float{Float: float64(v)}}, nil
	case []byte:
		if v == nil {
			return &docwirev1.Node{}, nil
		}
		return &docwirev1.Node{Content: &docwirev1.Node_Blob{Blob: v}}, nil
	case *Tensor:
		return tensorNode(v, tensorType)
	case *Document:
		if v == nil {
			return &docwirev1.Node{}, nil
		}
		doc, err := encodeDocument(v)
		if err != nil {
			return nil, err
		}
		return &docwirev1.Node{Content: &docwirev1.Node_Doc{Doc: doc}}, nil
	case []*Document:
		return docListNode(v)
	case map[string]any:
		return dictNode(v)
	}
	return encodeReflected(reflect.ValueOf(value))
}

// encodeReflected encodes the kinds a type switch cannot list: named types, every
// integer type, and slices and string-keyed maps of any element type.
func encodeReflected(v reflect.Value) (*docwirev1.Node, error) {
	switch v.Kind() {
	case reflect.String:
		return encodeValue(v.String())
	case reflect.Bool:
		return encodeValue(v.Bool())
	case reflect.Float32, reflect.Float64:
		return encodeValue(v.Float())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return integerNode(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if v.Uint() > math.MaxInt32 {
			return nil, fmt.Errorf("integer %d is out of the int32 range docarray sends; use a float64", v.Uint())
		}
		return integerNode(int64(v.Uint()))
	case reflect.Slice, reflect.Map:
		if v.IsNil() {
			return &docwirev1.Node{}, nil
		}
		return encodeContainer(v)
	case reflect.Array:
		return encodeContainer(v)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return &docwirev1.Node{}, nil
		}
		return encodeValue(v.Elem().Interface())
	}
	return nil, fmt.Errorf("a %s cannot be encoded as a document field", v.Type())
}

// encodeContainer encodes a slice or array as a list and a map as a dict.
func encodeContainer(v reflect.Value) (*docwirev1.Node, error) {
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		list := &docwirev1.ListOfAny{Data: make([]*docwirev1.Node, v.Len())}
		for i := range v.Len() {
			node, err := encodeValue(v.Index(i).Interface())
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			list.Data[i] = node
		}
		return &docwirev1.Node{Content: &docwirev1.Node_List{List: list}}, nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("a map with %s keys cannot be encoded: keys must be strings", v.Type().Key())
		}
		values := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			values[it.Key().String()] = it.Value().Interface()
		}
		return dictNode(values)
	}
	return nil, fmt.Errorf("a %s cannot be encoded as a document field", v.Type())
}

func integerNode(i int64) (*docwirev1.Node, error) {
	if i < math.MinInt32 || i > math.MaxInt32 {
		return nil, fmt.Errorf("integer %d is out of the int32 range docarray sends; use a float64", i)
	}
	return &docwirev1.Node{Content: &docwirev1.Node_Integer{Integer: int32(i)}}, nil
}

func tensorNode(t *Tensor, kind string) (*docwirev1.Node, error) {
	if t == nil {
		return &docwirev1.Node{}, nil
	}
	array, err := encodeTensor(t)
	if err != nil {
		return nil, err
	}
	return &docwirev1.Node{
		Content:      &docwirev1.Node_Ndarray{Ndarray: array},
		DocarrayType: &docwirev1.Node_Type{Type: kind},
	}, nil
}

func docListNode(docs []*Document) (*docwirev1.Node, error) {
	if docs == nil {
		return &docwirev1.Node{}, nil
	}
	list, err := encodeDocuments(docs)
	if err != nil {
		return nil, err
	}
	return &docwirev1.Node{Content: &docwirev1.Node_DocArray{DocArray: list}}, nil
}

func dictNode(values map[string]any) (*docwirev1.Node, error) {
	if values == nil {
		return &docwirev1.Node{}, nil
	}
	dict := &docwirev1.DictOfAny{Data: make(map[string]*docwirev1.Node, len(values))}
	for _, key := range sortedKeys(values) {
		node, err := encodeValue(values[key])
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		dict.Data[key] = node
	}
	return &docwirev1.Node{Content: &docwirev1.Node_Dict{Dict: dict}}, nil
}

// sortedKeys makes errors name the same key on every run.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

// decodeValue is the Go value of a Node, whatever field it belongs to: the inverse of
// encodeValue, with list, set and tuple all read as []any and integers as int.
func decodeValue(node *docwirev1.Node) (any, error) {
	switch content := node.GetContent().(type) {
	case nil:
		return nil, nil
	case *docwirev1.Node_Text:
		return content.Text, nil
	case *docwirev1.Node_Integer:
		return int(content.Integer), nil
	case *docwirev1.Node_Float:
		return content.Float, nil
	case *docwirev1.Node_Boolean:
		return content.Boolean, nil
	case *docwirev1.Node_Blob:
		return content.Blob, nil
	case *docwirev1.Node_Ndarray:
		return decodeTensor(content.Ndarray)
	case *docwirev1.Node_Doc:
		return decodeDocument(content.Doc)
	case *docwirev1.Node_DocArray:
		return decodeDocuments(content.DocArray)
	case *docwirev1.Node_List:
		return decodeList(content.List)
	case *docwirev1.Node_Set:
		return decodeList(content.Set)
	case *docwirev1.Node_Tuple:
		return decodeList(content.Tuple)
	case *docwirev1.Node_Dict:
		return decodeDict(content.Dict)
	}
	return nil, fmt.Errorf("unknown node content %T", node.GetContent())
}

func decodeList(list *docwirev1.ListOfAny) ([]any, error) {
	values := make([]any, len(list.GetData()))
	for i, node := range list.GetData() {
		value, err := decodeValue(node)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		values[i] = value
	}
	return values, nil
}

func decodeDict(dict *docwirev1.DictOfAny) (map[string]any, error) {
	values := make(map[string]any, len(dict.GetData()))
	for _, key := range sortedKeys(dict.GetData()) {
		value, err := decodeValue(dict.GetData()[key])
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		values[key] = value
	}
	return values, nil
}
