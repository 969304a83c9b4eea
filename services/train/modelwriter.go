package train

import (
	"encoding/binary"
	"hash"
	"math"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	"github.com/alur-ml/alur/serverkit"
)

// partWriter cuts the serialized model into parts of ModelPartBytes as it
// is written, hashing and counting the bytes, so the whole serialized model
// never sits in memory next to the model itself.
type partWriter struct {
	send  func(part []byte) error
	hash  hash.Hash
	buf   []byte
	total int64
}

// Write appends p, sending every part that fills up.
func (w *partWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, ModelPartBytes)
		}
		k := min(ModelPartBytes-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == ModelPartBytes {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush sends the buffered bytes, if any, as one part.
func (w *partWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	w.hash.Write(w.buf)
	w.total += int64(len(w.buf))
	// The part is handed to gRPC, which may hold it until it is written:
	// the next part gets a new buffer.
	part := w.buf
	w.buf = nil
	return w.send(part)
}

// modelMarshal is how models are serialized: deterministically, so that
// the same model always has the same digest.
var modelMarshal = proto.MarshalOptions{Deterministic: true}

// writeModel serializes m into w and flushes the last part. A forest's
// trees are serialized one at a time: everything but the forest first,
// then the forest field (14) tree by tree. Go's protobuf writes fields in
// field-number order, so these are the very bytes proto.Marshal gives for
// the whole model (a test holds it to that).
func writeModel(w *partWriter, m *datav1.Model) error {
	if knn := m.GetKnn(); knn != nil {
		return writeKnnModel(w, m, knn)
	}
	forest := m.GetForest()
	if forest == nil {
		raw, err := modelMarshal.Marshal(m)
		if err != nil {
			return serverkit.Errorf(codes.Internal, "serializing the model: %v", err)
		}
		if _, err := w.Write(raw); err != nil {
			return err
		}
		return w.flush()
	}
	head := proto.Clone(m).(*datav1.Model)
	head.Parameters = nil
	raw, err := modelMarshal.Marshal(head)
	if err != nil {
		return serverkit.Errorf(codes.Internal, "serializing the model: %v", err)
	}
	const forestField, treesField = 14, 1
	size := 0
	for _, t := range forest.GetTrees() {
		size += protowire.SizeTag(treesField) + protowire.SizeBytes(modelMarshal.Size(t))
	}
	raw = protowire.AppendTag(raw, forestField, protowire.BytesType)
	raw = protowire.AppendVarint(raw, uint64(size))
	if _, err := w.Write(raw); err != nil {
		return err
	}
	var buf []byte
	for _, t := range forest.GetTrees() {
		buf = protowire.AppendTag(buf[:0], treesField, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(modelMarshal.Size(t)))
		if buf, err = modelMarshal.MarshalAppend(buf, t); err != nil {
			return serverkit.Errorf(codes.Internal, "serializing the model: %v", err)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return w.flush()
}

// writeKnnModel serializes a k-NN model, whose training rows are most of
// it, without a second copy of them: the model's other fields first, then
// the knn field (11) with its packed points and targets written straight
// from the slices, 64 KiB at a time. These are the bytes proto.Marshal
// gives (a test holds it to that).
func writeKnnModel(w *partWriter, m *datav1.Model, knn *datav1.KnnModel) error {
	const knnField, pointsField, targetsField = 11, 4, 5
	// The model without its parameters, marshalled with them taken off for
	// a moment rather than cloned: a clone would copy the points.
	params := m.Parameters
	m.Parameters = nil
	raw, err := modelMarshal.Marshal(m)
	m.Parameters = params
	if err != nil {
		return serverkit.Errorf(codes.Internal, "serializing the model: %v", err)
	}
	small, err := modelMarshal.Marshal(&datav1.KnnModel{K: knn.GetK(), DistanceWeighted: knn.GetDistanceWeighted(), NumFeatures: knn.GetNumFeatures()})
	if err != nil {
		return serverkit.Errorf(codes.Internal, "serializing the model: %v", err)
	}
	packedSize := func(n int) int {
		if n == 0 {
			return 0
		}
		return protowire.SizeTag(pointsField) + protowire.SizeBytes(8*n)
	}
	size := len(small) + packedSize(len(knn.GetPoints())) + packedSize(len(knn.GetTargets()))
	raw = protowire.AppendTag(raw, knnField, protowire.BytesType)
	raw = protowire.AppendVarint(raw, uint64(size))
	raw = append(raw, small...)
	if _, err := w.Write(raw); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	for _, f := range []struct {
		num  protowire.Number
		vals []float64
	}{{pointsField, knn.GetPoints()}, {targetsField, knn.GetTargets()}} {
		if len(f.vals) == 0 {
			continue
		}
		buf = protowire.AppendTag(buf[:0], f.num, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(8*len(f.vals)))
		for _, v := range f.vals {
			if len(buf)+8 > cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
	}
	return w.flush()
}
