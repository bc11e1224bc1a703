package docwire

import (
	"encoding/binary"
	"fmt"
	"math"

	docwirev1 "github.com/docwire/docwire/sdk/go/gen/docwire/v1"
)

// Tensor is a dense array of float32 values in row-major (C) order, as numpy holds it.
type Tensor struct {
	// Values are the elements; len(Values) is the product of Shape.
	Values []float32
	// Shape is the size of each dimension.
	Shape []int
}

// NewTensor returns a tensor of values with the given shape; no shape means one
// dimension of len(values).
func NewTensor(values []float32, shape ...int) *Tensor {
	if len(shape) == 0 {
		shape = []int{len(values)}
	}
	return &Tensor{Values: values, Shape: shape}
}

// The numpy dtype strings of tensors as they travel: docwire sends little-endian float32.
const dtypeFloat32 = "<f4"

// Docarray's names for the kind of a tensor field (the Node's type).
const (
	tensorType    = "ndarray"
	embeddingType = "ndarray_embedding"
)

func (t *Tensor) size() (int, error) {
	size := 1
	for _, dim := range t.Shape {
		if dim < 0 || uint64(dim) > math.MaxUint32 {
			return 0, fmt.Errorf("shape %v has a dimension out of range", t.Shape)
		}
		size *= dim
	}
	if size != len(t.Values) {
		return 0, fmt.Errorf("shape %v holds %d values, not %d", t.Shape, size, len(t.Values))
	}
	return size, nil
}

// encodeTensor is the NdArray message of t: numpy's little-endian float32 bytes.
func encodeTensor(t *Tensor) (*docwirev1.NdArray, error) {
	if _, err := t.size(); err != nil {
		return nil, err
	}
	buffer := make([]byte, 4*len(t.Values))
	for i, v := range t.Values {
		binary.LittleEndian.PutUint32(buffer[4*i:], math.Float32bits(v))
	}
	shape := make([]uint32, len(t.Shape))
	for i, dim := range t.Shape {
		shape[i] = uint32(dim)
	}
	return &docwirev1.NdArray{Dense: &docwirev1.DenseNdArray{Buffer: buffer, Shape: shape, Dtype: dtypeFloat32}}, nil
}

// elementReader reads one element of a numpy dtype as float32.
type elementReader struct {
	size int
	read func(b []byte, order binary.ByteOrder) float32
}

// elementReaders covers numpy's float and integer kinds, by kind and size ("f4", "i8", "u1"...).
var elementReaders = map[string]elementReader{
	"f4": {4, func(b []byte, o binary.ByteOrder) float32 { return math.Float32frombits(o.Uint32(b)) }},
	"f8": {8, func(b []byte, o binary.ByteOrder) float32 { return float32(math.Float64frombits(o.Uint64(b))) }},
	"i1": {1, func(b []byte, _ binary.ByteOrder) float32 { return float32(int8(b[0])) }},
	"u1": {1, func(b []byte, _ binary.ByteOrder) float32 { return float32(b[0]) }},
	"i2": {2, func(b []byte, o binary.ByteOrder) float32 { return float32(int16(o.Uint16(b))) }},
	"u2": {2, func(b []byte, o binary.ByteOrder) float32 { return float32(o.Uint16(b)) }},
	"i4": {4, func(b []byte, o binary.ByteOrder) float32 { return float32(int32(o.Uint32(b))) }},
	"u4": {4, func(b []byte, o binary.ByteOrder) float32 { return float32(o.Uint32(b)) }},
	"i8": {8, func(b []byte, o binary.ByteOrder) float32 { return float32(int64(o.Uint64(b))) }},
	"u8": {8, func(b []byte, o binary.ByteOrder) float32 { return float32(o.Uint64(b)) }},
}

// decodeTensor reads an NdArray of any numpy float or integer dtype into float32 values
// (float64 and 64-bit integers lose precision).
func decodeTensor(message *docwirev1.NdArray) (*Tensor, error) {
	dense := message.GetDense()
	dtype := dense.GetDtype()
	var order binary.ByteOrder = binary.LittleEndian
	code := dtype
	if len(dtype) == 3 {
		switch dtype[0] {
		case '<', '|', '=':
		case '>':
			order = binary.BigEndian
		default:
			return nil, fmt.Errorf("unsupported tensor dtype %q", dtype)
		}
		code = dtype[1:]
	}
	reader, ok := elementReaders[code]
	if !ok {
		return nil, fmt.Errorf("unsupported tensor dtype %q (float and integer dtypes are)", dtype)
	}
	buffer := dense.GetBuffer()
	if len(buffer)%reader.size != 0 {
		return nil, fmt.Errorf("a %s tensor of %d bytes is malformed", dtype, len(buffer))
	}
	values := make([]float32, len(buffer)/reader.size)
	for i := range values {
		values[i] = reader.read(buffer[i*reader.size:], order)
	}
	shape := make([]int, len(dense.GetShape()))
	for i, dim := range dense.GetShape() {
		shape[i] = int(dim)
	}
	tensor := &Tensor{Values: values, Shape: shape}
	if _, err := tensor.size(); err != nil {
		return nil, fmt.Errorf("malformed %s tensor: %w", dtype, err)
	}
	return tensor, nil
}
