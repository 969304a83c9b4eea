package serve

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	"github.com/alur-ml/alur/proto/inference"
	"github.com/alur-ml/alur/serverkit"
)

// Output tensor names.
const (
	outLabel         = "label"
	outProbabilities = "probabilities"
	outPrediction    = "prediction"
)

// Protocol data types alur reads and writes.
const (
	typeFP64  = "FP64"
	typeFP32  = "FP32"
	typeINT64 = "INT64"
	typeINT32 = "INT32"
	typeBOOL  = "BOOL"
	typeBYTES = "BYTES"
)

// datatypeOf is the data type ModelMetadata advertises for a raw column.
func datatypeOf(t datav1.ColumnType) string {
	switch t {
	case datav1.ColumnType_COLUMN_TYPE_CATEGORICAL:
		return typeBYTES
	case datav1.ColumnType_COLUMN_TYPE_BOOLEAN:
		return typeBOOL
	}
	return typeFP64
}

// accepts lists the data types a column of type t may be sent as.
func accepts(t datav1.ColumnType) []string {
	switch t {
	case datav1.ColumnType_COLUMN_TYPE_CATEGORICAL:
		return []string{typeBYTES}
	case datav1.ColumnType_COLUMN_TYPE_BOOLEAN:
		return []string{typeBOOL, typeFP64, typeFP32, typeINT64, typeINT32}
	}
	return []string{typeFP64, typeFP32, typeINT64, typeINT32}
}

// inputTable turns a request's input tensors into a table of the model's
// raw columns. Every column must come exactly once, as a tensor of shape
// [n] or [n, 1] with the same n for all, in a data type its column
// accepts; errors name the offending input.
func inputTable(m *model, req *inference.ModelInferRequest, maxRows int) (*table.Table, error) {
	byName := make(map[string]int, len(m.inputs))
	for i, f := range m.inputs {
		byName[f.GetName()] = i
	}
	raw := req.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(req.GetInputs()) {
		return nil, serverkit.InvalidArgument("raw_input_contents",
			fmt.Sprintf("%d entries for %d inputs: send one per input, in order", len(raw), len(req.GetInputs())))
	}
	cols := make([]*table.Column, len(m.inputs))
	rows := -1
	for i, in := range req.GetInputs() {
		field := fmt.Sprintf("inputs[%d]", i)
		j, ok := byName[in.GetName()]
		if !ok {
			return nil, serverkit.InvalidArgument(field+".name",
				fmt.Sprintf("%q is not an input of model %s: it takes %s", in.GetName(), m.name, inputNames(m)))
		}
		if cols[j] != nil {
			return nil, serverkit.InvalidArgument(field+".name", fmt.Sprintf("input %q is sent twice", in.GetName()))
		}
		n, err := rowsOf(in, field, maxRows)
		if err != nil {
			return nil, err
		}
		if rows >= 0 && n != rows {
			return nil, serverkit.InvalidArgument(field+".shape",
				fmt.Sprintf("input %q has %d rows, but the inputs before it have %d", in.GetName(), n, rows))
		}
		rows = n
		var rc []byte
		if len(raw) > 0 {
			if in.GetContents() != nil {
				return nil, serverkit.InvalidArgument(field+".contents", fmt.Sprintf("input %q has contents, but the request uses raw_input_contents", in.GetName()))
			}
			rc = raw[i]
		}
		if cols[j], err = column(m.inputs[j], in, rc, n, field); err != nil {
			return nil, err
		}
	}
	for j, c := range cols {
		if c == nil {
			return nil, serverkit.InvalidArgument("inputs",
				fmt.Sprintf("missing input %q (%s): model %s takes %s", m.inputs[j].GetName(), datatypeOf(m.inputs[j].GetType()), m.name, inputNames(m)))
		}
	}
	if rows <= 0 {
		return nil, serverkit.InvalidArgument("inputs", "no rows to predict")
	}
	return &table.Table{Columns: cols}, nil
}

func inputNames(m *model) string {
	names := make([]string, len(m.inputs))
	for i, f := range m.inputs {
		names[i] = fmt.Sprintf("%s (%s)", f.GetName(), datatypeOf(f.GetType()))
	}
	return strings.Join(names, ", ")
}

// rowsOf checks an input's shape is [n] or [n, 1] and returns n.
func rowsOf(in *inference.ModelInferRequest_InferInputTensor, field string, maxRows int) (int, error) {
	sh := in.GetShape()
	if len(sh) == 0 || len(sh) > 2 || (len(sh) == 2 && sh[1] != 1) || sh[0] < 0 {
		return 0, serverkit.InvalidArgument(field+".shape",
			fmt.Sprintf("input %q has shape %v: want [n] or [n, 1], one value per row", in.GetName(), sh))
	}
	if sh[0] > int64(maxRows) {
		return 0, serverkit.ResourceExhausted("max_rows", fmt.Sprintf("input %q has %d rows, over the %d-row limit of one request", in.GetName(), sh[0], maxRows))
	}
	return int(sh[0]), nil
}

// column decodes one input tensor into a column of the field's type.
func column(f *datav1.Field, in *inference.ModelInferRequest_InferInputTensor, raw []byte, n int, field string) (*table.Column, error) {
	dt := in.GetDatatype()
	ok := false
	for _, a := range accepts(f.GetType()) {
		ok = ok || a == dt
	}
	if !ok {
		return nil, serverkit.InvalidArgument(field+".datatype",
			fmt.Sprintf("input %q is %q: column %q is %s, send it as %s", in.GetName(), dt, f.GetName(),
				strings.ToLower(strings.TrimPrefix(f.GetType().String(), "COLUMN_TYPE_")), strings.Join(accepts(f.GetType()), " or ")))
	}
	count := func(got int) error {
		if got != n {
			return serverkit.InvalidArgument(field+".contents",
				fmt.Sprintf("input %q has %d %s values for shape %v: want %d", in.GetName(), got, dt, in.GetShape(), n))
		}
		return nil
	}
	c := in.GetContents()
	if dt == typeBYTES {
		vals := c.GetBytesContents()
		if raw != nil {
			var err error
			if vals, err = splitRawBytes(raw); err != nil {
				return nil, serverkit.InvalidArgument(field+".raw_input_contents", fmt.Sprintf("input %q: %v", in.GetName(), err))
			}
		}
		if err := count(len(vals)); err != nil {
			return nil, err
		}
		col := &table.Column{Name: f.GetName(), Type: f.GetType(), Codes: make([]int32, n), Dict: []string{}}
		dict := map[string]int32{}
		for r, v := range vals {
			s := strings.Trim(string(v), " \t")
			if tablepb.IsMissing(s) {
				col.Codes[r] = -1
				continue
			}
			code, ok := dict[s]
			if !ok {
				code = int32(len(col.Dict))
				dict[s] = code
				col.Dict = append(col.Dict, s)
			}
			col.Codes[r] = code
		}
		return col, nil
	}
	nums := make([]float64, 0, n)
	if raw != nil {
		size := map[string]int{typeFP64: 8, typeFP32: 4, typeINT64: 8, typeINT32: 4, typeBOOL: 1}[dt]
		if len(raw) != n*size {
			return nil, serverkit.InvalidArgument(field+".raw_input_contents",
				fmt.Sprintf("input %q: %d bytes for %d %s values, want %d", in.GetName(), len(raw), n, dt, n*size))
		}
		for r := 0; r < n; r++ {
			b := raw[r*size:]
			switch dt {
			case typeFP64:
				nums = append(nums, math.Float64frombits(binary.LittleEndian.Uint64(b)))
			case typeFP32:
				nums = append(nums, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))))
			case typeINT64:
				nums = append(nums, float64(int64(binary.LittleEndian.Uint64(b))))
			case typeINT32:
				nums = append(nums, float64(int32(binary.LittleEndian.Uint32(b))))
			case typeBOOL:
				nums = append(nums, float64(b[0]&1))
			}
		}
	} else {
		switch dt {
		case typeFP64:
			nums = append(nums, c.GetFp64Contents()...)
		case typeFP32:
			for _, v := range c.GetFp32Contents() {
				nums = append(nums, float64(v))
			}
		case typeINT64:
			for _, v := range c.GetInt64Contents() {
				nums = append(nums, float64(v))
			}
		case typeINT32:
			for _, v := range c.GetIntContents() {
				nums = append(nums, float64(v))
			}
		case typeBOOL:
			for _, v := range c.GetBoolContents() {
				nums = append(nums, map[bool]float64{false: 0, true: 1}[v])
			}
		}
	}
	if err := count(len(nums)); err != nil {
		return nil, err
	}
	for r, v := range nums {
		if math.IsInf(v, 0) {
			return nil, serverkit.InvalidArgument(field+".contents", fmt.Sprintf("input %q row %d is infinite", in.GetName(), r))
		}
		if f.GetType() == datav1.ColumnType_COLUMN_TYPE_BOOLEAN && !math.IsNaN(v) && v != 0 && v != 1 {
			return nil, serverkit.InvalidArgument(field+".contents", fmt.Sprintf("input %q row %d is %g: column %q is boolean, 0 or 1", in.GetName(), r, v, f.GetName()))
		}
	}
	return &table.Column{Name: f.GetName(), Type: f.GetType(), Nums: nums}, nil
}

// splitRawBytes reads BYTES elements in the protocol's raw form: each a
// 4-byte little-endian length, then that many bytes.
func splitRawBytes(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%d trailing bytes, too few for a 4-byte length", len(b))
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, fmt.Errorf("an element of %d bytes, but only %d remain", n, len(b))
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out, nil
}

// outputs builds the response tensors from the model's answer: label
// (BYTES [n]) and probabilities (FP64 [n, classes]) for a classifier,
// prediction (FP64 [n]) for a regressor. want, when not empty, keeps only
// the outputs named there (unknown names are refused).
func outputs(m *model, out *mat.Dense, want []*inference.ModelInferRequest_InferRequestedOutputTensor) ([]*inference.ModelInferResponse_InferOutputTensor, error) {
	rows, cols := out.Dims()
	var all []*inference.ModelInferResponse_InferOutputTensor
	if m.m.GetTask() == datav1.Task_TASK_CLASSIFICATION {
		classes := m.m.GetClassNames()
		labels := make([][]byte, rows)
		probs := make([]float64, 0, rows*cols)
		for i := 0; i < rows; i++ {
			row := out.RawRowView(i)
			best, bestV := 0, math.Inf(-1)
			for j, v := range row {
				if v > bestV {
					best, bestV = j, v
				}
			}
			labels[i] = []byte(classes[best])
			probs = append(probs, row...)
		}
		all = []*inference.ModelInferResponse_InferOutputTensor{
			{Name: outLabel, Datatype: typeBYTES, Shape: []int64{int64(rows)}, Contents: &inference.InferTensorContents{BytesContents: labels}},
			{Name: outProbabilities, Datatype: typeFP64, Shape: []int64{int64(rows), int64(cols)},
				Parameters: map[string]*inference.InferParameter{"classes": {ParameterChoice: &inference.InferParameter_StringParam{StringParam: strings.Join(classes, ",")}}},
				Contents:   &inference.InferTensorContents{Fp64Contents: probs}},
		}
	} else {
		vals := make([]float64, rows)
		for i := range vals {
			vals[i] = out.At(i, 0)
		}
		all = []*inference.ModelInferResponse_InferOutputTensor{
			{Name: outPrediction, Datatype: typeFP64, Shape: []int64{int64(rows)}, Contents: &inference.InferTensorContents{Fp64Contents: vals}},
		}
	}
	if len(want) == 0 {
		return all, nil
	}
	var kept []*inference.ModelInferResponse_InferOutputTensor
	for i, w := range want {
		found := false
		for _, o := range all {
			if o.GetName() == w.GetName() {
				kept, found = append(kept, o), true
			}
		}
		if !found {
			names := make([]string, len(all))
			for k, o := range all {
				names[k] = o.GetName()
			}
			return nil, serverkit.InvalidArgument(fmt.Sprintf("outputs[%d].name", i),
				fmt.Sprintf("%q is not an output of model %s: it has %s", w.GetName(), m.name, strings.Join(names, ", ")))
		}
	}
	return kept, nil
}

// toRaw moves every output's contents into raw_output_contents, the form
// clients that sent raw inputs (such as Triton's) read.
func toRaw(resp *inference.ModelInferResponse) {
	for _, o := range resp.GetOutputs() {
		c := o.GetContents()
		var b []byte
		switch o.GetDatatype() {
		case typeFP64:
			b = make([]byte, 0, 8*len(c.GetFp64Contents()))
			for _, v := range c.GetFp64Contents() {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			}
		case typeBYTES:
			for _, v := range c.GetBytesContents() {
				b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
				b = append(b, v...)
			}
		}
		resp.RawOutputContents = append(resp.RawOutputContents, b)
		o.Contents = nil
	}
}
