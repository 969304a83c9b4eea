package tablepb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// DelimitedMediaType names the file format of MarshalDelimited: varint
// length-delimited messages, one alur.data.v1.Schema then
// alur.data.v1.TableBatch messages, readable by any protobuf library.
const DelimitedMediaType = "application/x-protobuf-delimited; messageType=alur.data.v1.Schema,alur.data.v1.TableBatch"

// MarshalDelimited serializes a table deterministically (equal tables give
// equal bytes), for storing tables as artifacts.
func MarshalDelimited(t *table.Table) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	opts := protodelim.MarshalOptions{MarshalOptions: proto.MarshalOptions{Deterministic: true}}
	if _, err := opts.MarshalTo(&buf, t.Schema()); err != nil {
		return nil, err
	}
	for _, b := range Batches(t, 0) {
		if _, err := opts.MarshalTo(&buf, b); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// UnmarshalDelimited reads a table written by MarshalDelimited, validating
// it as a stream from the network would be.
func UnmarshalDelimited(b []byte) (*table.Table, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	schema := &datav1.Schema{}
	if err := protodelim.UnmarshalFrom(r, schema); err != nil {
		return nil, fmt.Errorf("delimited table: schema: %w", err)
	}
	var c Collector
	if err := c.Schema(schema); err != nil {
		return nil, fmt.Errorf("delimited table: %w", err)
	}
	for {
		batch := &datav1.TableBatch{}
		err := protodelim.UnmarshalFrom(r, batch)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("delimited table: batch: %w", err)
		}
		if err := c.Batch(batch); err != nil {
			return nil, fmt.Errorf("delimited table: %w", err)
		}
	}
	return c.Table()
}
