package artifacts

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
)

// Artifact kinds and media types. Tables are stored as a sequence of
// varint-length-delimited messages: one alur.data.v1.Schema, then
// alur.data.v1.TableBatch messages, so any protobuf library can read them.
const (
	KindSource      = "source"
	KindDataset     = "dataset"
	KindProfile     = "profile"
	KindTransform   = "transform"
	KindPrepared    = "prepared"
	KindModel       = "model"
	KindTrainResult = "train_result"
	KindMetrics     = "metrics"
	KindReport      = "report"
	// KindLearningCurve is a run's learning curve.
	KindLearningCurve = "learning_curve"
	// KindDatasetBatch is one batch appended to a dataset; the whole
	// version's table is a KindDataset artifact.
	KindDatasetBatch = "dataset_batch"

	MediaTable = tablepb.DelimitedMediaType
	MediaCSV   = "text/csv"
)

// MediaProto is the media type of a stored protobuf message, naming its type.
func MediaProto(m proto.Message) string {
	return "application/x-protobuf; messageType=" + string(m.ProtoReflect().Descriptor().FullName())
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// Marshal serializes m deterministically, so equal messages have equal
// digests and cache keys.
func Marshal(m proto.Message) ([]byte, error) { return deterministic.Marshal(m) }

// EncodeTable serializes a table deterministically, so equal tables have
// equal digests and cache keys.
func EncodeTable(t *table.Table) ([]byte, error) { return tablepb.MarshalDelimited(t) }

// DecodeTable reads a table written by EncodeTable.
func DecodeTable(b []byte) (*table.Table, error) { return tablepb.UnmarshalDelimited(b) }

// ConcatTables appends the rows of b to those of a. Both have the same
// schema; categorical codes of b are remapped onto a's dictionary.
func ConcatTables(a, b *table.Table) (*table.Table, error) {
	if len(a.Columns) != len(b.Columns) {
		return nil, fmt.Errorf("concat: %d columns vs %d", len(a.Columns), len(b.Columns))
	}
	out := &table.Table{Columns: make([]*table.Column, len(a.Columns))}
	for i, ca := range a.Columns {
		cb := b.Columns[i]
		if ca.Name != cb.Name || ca.Type != cb.Type {
			return nil, fmt.Errorf("concat: column %d is %s/%v vs %s/%v", i, ca.Name, ca.Type, cb.Name, cb.Type)
		}
		c := &table.Column{Name: ca.Name, Type: ca.Type}
		if !ca.IsCategorical() {
			c.Nums = append(append(make([]float64, 0, len(ca.Nums)+len(cb.Nums)), ca.Nums...), cb.Nums...)
			out.Columns[i] = c
			continue
		}
		c.Dict = append([]string(nil), ca.Dict...)
		index := make(map[string]int32, len(c.Dict))
		for j, s := range c.Dict {
			index[s] = int32(j)
		}
		c.Codes = append(make([]int32, 0, len(ca.Codes)+len(cb.Codes)), ca.Codes...)
		for _, code := range cb.Codes {
			if code < 0 {
				c.Codes = append(c.Codes, -1)
				continue
			}
			s := cb.Dict[code]
			k, ok := index[s]
			if !ok {
				k = int32(len(c.Dict))
				c.Dict = append(c.Dict, s)
				index[s] = k
			}
			c.Codes = append(c.Codes, k)
		}
		out.Columns[i] = c
	}
	return out, nil
}
