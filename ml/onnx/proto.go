package onnx

import (
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// The ONNX IR is a protobuf format (onnx.proto in the ONNX repository).
// alur writes the few messages an exported pipeline needs directly with
// protowire; the field numbers below are those of the published
// onnx.proto.

// Tensor element types (TensorProto.DataType).
const (
	typeFloat  = 1
	typeString = 8
	typeInt64  = 7
	typeDouble = 11
)

// Attribute types (AttributeProto.AttributeType).
const (
	attrFloat   = 1
	attrInt     = 2
	attrString  = 3
	attrTensor  = 4
	attrFloats  = 6
	attrInts    = 7
	attrStrings = 8
)

// attr is one node attribute.
type attr struct {
	name    string
	kind    int
	f       float32
	i       int64
	s       string
	floats  []float32
	ints    []int64
	strings []string
	t       *tensor
}

func (a attr) marshal() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, a.name)
	switch a.kind {
	case attrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.i))
	case attrString:
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendString(b, a.s)
	case attrTensor:
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, a.t.marshal())
	case attrFloats:
		var p []byte
		for _, f := range a.floats {
			p = protowire.AppendFixed32(p, math.Float32bits(f))
		}
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		b = protowire.AppendBytes(b, p)
	case attrInts:
		var p []byte
		for _, v := range a.ints {
			p = protowire.AppendVarint(p, uint64(v))
		}
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendBytes(b, p)
	case attrStrings:
		for _, s := range a.strings {
			b = protowire.AppendTag(b, 9, protowire.BytesType)
			b = protowire.AppendString(b, s)
		}
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(a.kind))
}

func fattr(name string, f float32) attr     { return attr{name: name, kind: attrFloat, f: f} }
func iattr(name string, i int64) attr       { return attr{name: name, kind: attrInt, i: i} }
func sattr(name, s string) attr             { return attr{name: name, kind: attrString, s: s} }
func fsattr(name string, fs []float32) attr { return attr{name: name, kind: attrFloats, floats: fs} }
func isattr(name string, is []int64) attr   { return attr{name: name, kind: attrInts, ints: is} }
func ssattr(name string, ss []string) attr  { return attr{name: name, kind: attrStrings, strings: ss} }
func tattr(name string, v []float64) attr {
	return attr{name: name, kind: attrTensor, t: &tensor{name: name, dims: []int64{int64(len(v))}, elem: typeDouble, doubles: v}}
}
func domainML(n *node) *node                    { n.domain = "ai.onnx.ml"; return n }
func withAttrs(n *node, as ...attr) *node       { n.attrs = append(n.attrs, as...); return n }
func newNode(op string, in, out []string) *node { return &node{op: op, in: in, out: out} }

// node is a NodeProto.
type node struct {
	op, domain, name string
	in, out          []string
	attrs            []attr
}

func (n *node) marshal() []byte {
	var b []byte
	for _, s := range n.in {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	for _, s := range n.out {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	if n.name != "" {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, n.name)
	}
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendString(b, n.op)
	for _, a := range n.attrs {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, a.marshal())
	}
	if n.domain != "" {
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		b = protowire.AppendString(b, n.domain)
	}
	return b
}

// tensor is a constant TensorProto (an initializer).
type tensor struct {
	name    string
	dims    []int64
	elem    int
	doubles []float64
	ints    []int64
}

func (t *tensor) marshal() []byte {
	var b []byte
	for _, d := range t.dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.elem))
	switch t.elem {
	case typeInt64:
		var p []byte
		for _, v := range t.ints {
			p = protowire.AppendVarint(p, uint64(v))
		}
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		b = protowire.AppendBytes(b, p)
	case typeDouble:
		var p []byte
		for _, v := range t.doubles {
			p = protowire.AppendFixed64(p, math.Float64bits(v))
		}
		b = protowire.AppendTag(b, 10, protowire.BytesType)
		b = protowire.AppendBytes(b, p)
	}
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	return protowire.AppendString(b, t.name)
}

// valueInfo is a graph input or output: a tensor of elem type whose
// dimensions are fixed sizes or, for 0, the symbolic batch size "N".
type valueInfo struct {
	name string
	elem int
	dims []int64
}

func (v valueInfo) marshal() []byte {
	var shape []byte
	for _, d := range v.dims {
		var dim []byte
		if d > 0 {
			dim = protowire.AppendTag(dim, 1, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d))
		} else {
			dim = protowire.AppendTag(dim, 2, protowire.BytesType)
			dim = protowire.AppendString(dim, "N")
		}
		shape = protowire.AppendTag(shape, 1, protowire.BytesType)
		shape = protowire.AppendBytes(shape, dim)
	}
	var tt []byte
	tt = protowire.AppendTag(tt, 1, protowire.VarintType)
	tt = protowire.AppendVarint(tt, uint64(v.elem))
	tt = protowire.AppendTag(tt, 2, protowire.BytesType)
	tt = protowire.AppendBytes(tt, shape)
	var typ []byte
	typ = protowire.AppendTag(typ, 1, protowire.BytesType)
	typ = protowire.AppendBytes(typ, tt)
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, v.name)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, typ)
}

// graph is a GraphProto under construction.
type graph struct {
	nodes   []*node
	inits   []*tensor
	inputs  []valueInfo
	outputs []valueInfo
	seq     int
	// prefix starts every fresh value name, such as "m2_" while an
	// ensemble's member 2 is added, so a member's nodes and initializers
	// read as its own.
	prefix string
}

// tmp returns a fresh value name.
func (g *graph) tmp(hint string) string {
	g.seq++
	return g.prefix + "t" + strconv.Itoa(g.seq) + "_" + hint
}

func (g *graph) add(n *node) *node { g.nodes = append(g.nodes, n); return n }

// constDouble adds a double initializer.
func (g *graph) constDouble(hint string, dims []int64, v []float64) string {
	name := g.tmp(hint)
	g.inits = append(g.inits, &tensor{name: name, dims: dims, elem: typeDouble, doubles: v})
	return name
}

// constInt64 adds an int64 initializer.
func (g *graph) constInt64(hint string, dims []int64, v []int64) string {
	name := g.tmp(hint)
	g.inits = append(g.inits, &tensor{name: name, dims: dims, elem: typeInt64, ints: v})
	return name
}

// op adds a node with one output and returns the output's name.
func (g *graph) op(op string, in []string, as ...attr) string {
	out := g.tmp(op)
	g.add(withAttrs(newNode(op, in, []string{out}), as...))
	return out
}

// mlop adds an ai.onnx.ml node with one output.
func (g *graph) mlop(op string, in []string, as ...attr) string {
	out := g.tmp(op)
	g.add(domainML(withAttrs(newNode(op, in, []string{out}), as...)))
	return out
}

func (g *graph) marshal(name string) []byte {
	var b []byte
	for _, n := range g.nodes {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, n.marshal())
	}
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, name)
	for _, t := range g.inits {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, t.marshal())
	}
	for _, v := range g.inputs {
		b = protowire.AppendTag(b, 11, protowire.BytesType)
		b = protowire.AppendBytes(b, v.marshal())
	}
	for _, v := range g.outputs {
		b = protowire.AppendTag(b, 12, protowire.BytesType)
		b = protowire.AppendBytes(b, v.marshal())
	}
	return b
}

// model wraps a graph in a ModelProto with its operator sets.
func model(g *graph, name, doc string) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, irVersion)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "alur")
	b = protowire.AppendTag(b, 6, protowire.BytesType)
	b = protowire.AppendString(b, doc)
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendBytes(b, g.marshal(name))
	for _, os := range []struct {
		domain  string
		version int64
	}{{"", opsetONNX}, {"ai.onnx.ml", opsetML}} {
		var o []byte
		o = protowire.AppendTag(o, 1, protowire.BytesType)
		o = protowire.AppendString(o, os.domain)
		o = protowire.AppendTag(o, 2, protowire.VarintType)
		o = protowire.AppendVarint(o, uint64(os.version))
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendBytes(b, o)
	}
	return b
}
