// Package prep is the PrepService: a thin gRPC shell over the ml/profile
// and ml/dataprep libraries. It receives a table as a stream of batches,
// profiles it, or splits it, fits the transform on the train rows and
// streams the fitted transform and the three prepared splits back, or
// applies a fitted transform to new rows. It validates every request part,
// maps library errors to precise status codes and keeps every message it
// sends well under 1 MiB.
package prep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/profile"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	"github.com/alur-ml/alur/serverkit"
)

const (
	// DefaultMaxRows is the row limit used when Config.MaxRows is 0.
	DefaultMaxRows = 10_000_000
	// DefaultMaxColumns is the column limit used when Config.MaxColumns
	// is 0.
	DefaultMaxColumns = 10_000
	// DefaultMaxFeatureCells is the limit on rows × prepared columns used
	// when Config.MaxFeatureCells is 0: 100 million doubles, 800 MB.
	DefaultMaxFeatureCells = 100_000_000
	// DefaultMaxCategories is the limit on the distinct categories of one
	// received column used when Config.MaxCategories is 0: the dictionary
	// cap every stage applies.
	DefaultMaxCategories = tablepb.DefaultMaxCategories
	// MaxMessageBytes bounds every single message this service sends (the
	// transform, a profile); batches are cut by tablepb well below it.
	MaxMessageBytes = 768 << 10
	// inlineSchemaBytes is the largest prepared schema that travels in the
	// same SplitBatch as the first rows; a larger one gets a message of its
	// own, so schema plus batch never nears 1 MiB.
	inlineSchemaBytes = 64 << 10
)

// Config holds the server's limits.
type Config struct {
	// MaxRows caps the rows of a received table; 0 means DefaultMaxRows.
	MaxRows int64
	// MaxColumns caps the columns of a received table; 0 means
	// DefaultMaxColumns.
	MaxColumns int
	// MaxFeatureCells caps rows × prepared columns, the size of the
	// feature matrix a request makes (one-hot encoding can multiply the
	// width); 0 means DefaultMaxFeatureCells.
	MaxFeatureCells int64
	// MaxCategories caps the distinct categories (the dictionary size) of
	// each categorical column of a received table, and the one-hot
	// vocabulary a Prepare request may ask for (options.max_categories);
	// 0 means DefaultMaxCategories.
	MaxCategories int
}

// Server implements prepv1.PrepServiceServer. It holds no state besides its
// limits, so one Server serves any number of concurrent streams.
type Server struct {
	prepv1.UnimplementedPrepServiceServer
	cfg Config
}

// NewServer returns a Server with cfg's limits, defaults filled in.
func NewServer(cfg Config) *Server {
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.MaxColumns <= 0 {
		cfg.MaxColumns = DefaultMaxColumns
	}
	if cfg.MaxFeatureCells <= 0 {
		cfg.MaxFeatureCells = DefaultMaxFeatureCells
	}
	if cfg.MaxCategories <= 0 {
		cfg.MaxCategories = DefaultMaxCategories
	}
	return &Server{cfg: cfg}
}

// Profile receives optional options, the schema and batches, and answers
// with the table's profile.
func (s *Server) Profile(stream prepv1.PrepService_ProfileServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil && !errors.Is(err, io.EOF) {
		return recvError(ctx, err)
	}
	opts := first.GetOptions()
	if err := profile.ValidateOptions(opts); err != nil {
		return toStatus(err)
	}
	var pending *prepv1.ProfileRequest
	if opts == nil && first != nil {
		pending = first // no options: the first message is the schema
	}
	t, err := collect(ctx, s.collector(), pending, stream.Recv, "options",
		func(m *prepv1.ProfileRequest) bool { return m.GetOptions() != nil }, nil)
	if err != nil {
		return err
	}
	p, err := profile.ProfileContext(ctx, t, opts)
	if err != nil {
		return toStatus(err)
	}
	resp := &prepv1.ProfileResponse{Profile: p}
	if n := proto.Size(resp); n > MaxMessageBytes {
		return serverkit.ResourceExhausted("max_message_bytes", fmt.Sprintf(
			"the profile of %d columns would be %d bytes, above the %d-byte message limit: ask for fewer histogram_bins or top_categories, or profile fewer columns at a time",
			len(p.GetColumns()), n, MaxMessageBytes))
	}
	return stream.SendAndClose(resp)
}

// Prepare receives options, the schema and batches; when the client closes
// its side it splits the rows, fits the transform on the train rows,
// applies it to every split and streams back the transform, the split
// batches and a summary with the digests of the prepared tables.
func (s *Server) Prepare(stream prepv1.PrepService_PrepareServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return serverkit.InvalidArgument("options", "required: the stream closed before the options")
	}
	if err != nil {
		return recvError(ctx, err)
	}
	opts := first.GetOptions()
	if opts == nil {
		return serverkit.InvalidArgument("options", "required as the first message of the stream, before the schema")
	}
	if err := dataprep.ValidateOptions(opts); err != nil {
		return toStatus(err)
	}
	if m := opts.GetMaxCategories(); int64(m) > int64(s.cfg.MaxCategories) {
		return serverkit.ResourceExhausted("max_categories", fmt.Sprintf(
			"options.max_categories asks for %d one-hot categories per column; this server accepts at most %d", m, s.cfg.MaxCategories))
	}
	t, err := collect(ctx, s.collector(), nil, stream.Recv, "options",
		func(m *prepv1.PrepareRequest) bool { return m.GetOptions() != nil },
		func(sc *datav1.Schema) error { return checkPrepareSchema(sc, opts) })
	if err != nil {
		return err
	}
	splits, err := dataprep.Split(t, opts)
	if err != nil {
		return toStatus(err)
	}
	tr, err := dataprep.Fit(t, splits.Train, opts)
	if err != nil {
		return toStatus(err)
	}
	tr.LabelMissingDropped = int64(splits.LabelMissing)
	if n := proto.Size(tr); n > MaxMessageBytes {
		return serverkit.ResourceExhausted("max_message_bytes", fmt.Sprintf(
			"the fitted transform would be %d bytes (%d features), above the %d-byte message limit: lower max_categories or drop wide categorical columns",
			n, len(tr.GetFeatureNames()), MaxMessageBytes))
	}
	if err := s.checkCells(int64(t.NumRows()), len(tr.GetFeatureNames())); err != nil {
		return err
	}
	if err := stream.Send(&prepv1.PrepareResponse{Part: &prepv1.PrepareResponse_Transform{Transform: tr}}); err != nil {
		return err
	}
	sum := &prepv1.PrepareSummary{}
	for _, part := range []struct {
		split  prepv1.Split
		rows   []int
		count  *int64
		digest *string
	}{
		{prepv1.Split_SPLIT_TRAIN, splits.Train, &sum.TrainRows, &sum.TrainDigest},
		{prepv1.Split_SPLIT_VALIDATION, splits.Validation, &sum.ValidationRows, &sum.ValidationDigest},
		{prepv1.Split_SPLIT_TEST, splits.Test, &sum.TestRows, &sum.TestDigest},
	} {
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		X, y, err := dataprep.ApplyWithLabel(tr, t.Take(part.rows))
		if err != nil {
			return toStatus(err)
		}
		pt := dataprep.PreparedTable(tr, X, y)
		*part.count = int64(pt.NumRows())
		*part.digest = tablepb.Digest(pt)
		if err := sendSplit(stream, part.split, pt); err != nil {
			return err
		}
	}
	return stream.Send(&prepv1.PrepareResponse{Part: &prepv1.PrepareResponse_Summary{Summary: sum}})
}

// sendSplit streams one prepared split. The schema rides on the first batch
// when it is small, and comes alone in the split's first message when it
// is not, so no message nears 1 MiB.
func sendSplit(stream prepv1.PrepService_PrepareServer, split prepv1.Split, pt *table.Table) error {
	var pending *datav1.Schema
	send := func(sc *datav1.Schema, b *datav1.TableBatch) error {
		return stream.Send(&prepv1.PrepareResponse{Part: &prepv1.PrepareResponse_Batch{Batch: &prepv1.SplitBatch{Split: split, Schema: sc, Batch: b}}})
	}
	err := tablepb.Send(pt, tablepb.DefaultBatchBytes,
		func(sc *datav1.Schema) error {
			if proto.Size(sc) > inlineSchemaBytes {
				return send(sc, nil)
			}
			pending = sc
			return nil
		},
		func(b *datav1.TableBatch) error {
			sc := pending
			pending = nil
			return send(sc, b)
		})
	if err != nil {
		return sendError(err)
	}
	if pending != nil { // a split without batches still announces its schema
		return send(pending, nil)
	}
	return nil
}

// Apply receives a fitted transform, the raw schema and batches, and
// streams back the prepared schema and batches: the features, plus the
// label column when the rows have it (a row whose label is missing or a
// class the transform does not know has a missing label).
func (s *Server) Apply(stream prepv1.PrepService_ApplyServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return serverkit.InvalidArgument("transform", "required: the stream closed before the transform")
	}
	if err != nil {
		return recvError(ctx, err)
	}
	tr := first.GetTransform()
	if tr == nil {
		return serverkit.InvalidArgument("transform", "required as the first message of the stream, before the schema")
	}
	if err := dataprep.ValidateTransform(tr); err != nil {
		return toStatus(err)
	}
	t, err := collect(ctx, s.collector(), nil, stream.Recv, "transform",
		func(m *prepv1.ApplyRequest) bool { return m.GetTransform() != nil },
		func(sc *datav1.Schema) error { return checkApplySchema(sc, tr) })
	if err != nil {
		return err
	}
	if err := s.checkCells(int64(t.NumRows()), len(tr.GetFeatureNames())); err != nil {
		return err
	}
	X, err := dataprep.ApplyFeatures(tr, t)
	if err != nil {
		return toStatus(err)
	}
	var y []float64
	if c, _ := t.Column(tr.GetLabel()); c != nil {
		if y, err = dataprep.Targets(tr, t, true); err != nil {
			return toStatus(err)
		}
	}
	pt := dataprep.PreparedTable(tr, X, y)
	err = tablepb.Send(pt, tablepb.DefaultBatchBytes,
		func(sc *datav1.Schema) error {
			return stream.Send(&prepv1.ApplyResponse{Part: &prepv1.ApplyResponse_Schema{Schema: sc}})
		},
		func(b *datav1.TableBatch) error {
			return stream.Send(&prepv1.ApplyResponse{Part: &prepv1.ApplyResponse_Batch{Batch: b}})
		})
	if err != nil {
		return sendError(err)
	}
	return nil
}

// collector returns a table collector with the server's limits.
func (s *Server) collector() *tablepb.Collector {
	return &tablepb.Collector{MaxRows: s.cfg.MaxRows, MaxColumns: s.cfg.MaxColumns, MaxCategories: s.cfg.MaxCategories}
}

// checkCells refuses a request whose prepared matrix would exceed the
// feature-cell limit, before it is allocated.
func (s *Server) checkCells(rows int64, features int) error {
	if cells := rows * int64(features+1); cells > s.cfg.MaxFeatureCells {
		return serverkit.ResourceExhausted("max_feature_cells", fmt.Sprintf(
			"%d rows × %d prepared columns is %d cells, above the limit of %d: send fewer rows, or lower max_categories",
			rows, features+1, cells, s.cfg.MaxFeatureCells))
	}
	return nil
}

// tablePart is a request message that may carry a schema or a batch.
type tablePart interface {
	GetSchema() *datav1.Schema
	GetBatch() *datav1.TableBatch
}

// collect reads schema and batch messages until the client closes its
// side and returns the table. pending, when not nil, is a message already
// received. A message that repeats the stream's head (isHead) is refused
// naming headField; onSchema, when not nil, checks the schema as soon as it
// arrives, so a bad request fails before its rows are streamed.
func collect[T interface {
	comparable
	tablePart
}](ctx context.Context, c *tablepb.Collector, pending T, recv func() (T, error), headField string, isHead func(T) bool, onSchema func(*datav1.Schema) error) (*table.Table, error) {
	var zero T
	for {
		m := pending
		pending = zero
		if m == zero {
			var err error
			m, err = recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, recvError(ctx, err)
			}
		}
		switch {
		case m.GetSchema() != nil:
			if err := c.Schema(m.GetSchema()); err != nil {
				return nil, toStatus(err)
			}
			if onSchema != nil {
				if err := onSchema(m.GetSchema()); err != nil {
					return nil, err
				}
			}
		case m.GetBatch() != nil:
			if !c.HasSchema() {
				return nil, serverkit.InvalidArgument("schema", "required before the first batch")
			}
			if err := c.Batch(m.GetBatch()); err != nil {
				return nil, toStatus(err)
			}
		case isHead(m):
			return nil, serverkit.InvalidArgument(headField, "sent twice or after the schema: it must be the first message of the stream, once")
		default:
			return nil, serverkit.InvalidArgument("part", "the message carries neither a schema nor a batch")
		}
	}
	t, err := c.Table()
	if err != nil {
		return nil, toStatus(err)
	}
	return t, nil
}

// checkPrepareSchema checks, as soon as the schema arrives, that the
// columns the options name (label, split column, drop_columns and every
// cleaning option) exist with a type the option can work on.
func checkPrepareSchema(sc *datav1.Schema, o *prepv1.PrepareOptions) error {
	return toStatus(dataprep.CheckSchema(sc, o))
}

// checkApplySchema checks, as soon as the schema arrives, that every column
// the transform needs is there with a usable type.
func checkApplySchema(sc *datav1.Schema, tr *datav1.FittedTransform) error {
	types := make(map[string]datav1.ColumnType, len(sc.GetFields()))
	for _, f := range sc.GetFields() {
		types[f.GetName()] = f.GetType()
	}
	for _, ct := range tr.GetColumns() {
		if ct.GetAction() == datav1.ColumnAction_COLUMN_ACTION_DROP {
			continue
		}
		typ, ok := types[ct.GetName()]
		if !ok {
			return serverkit.InvalidArgument("schema", fmt.Sprintf("column %q, which the transform needs, is missing (columns: %s)", ct.GetName(), listNames(fieldNames(sc))))
		}
		if ct.GetAction() == datav1.ColumnAction_COLUMN_ACTION_NUMERIC && typ == datav1.ColumnType_COLUMN_TYPE_CATEGORICAL && !ct.GetParseNumeric() {
			return serverkit.InvalidArgument("schema", fmt.Sprintf("column %q is categorical but the transform was fitted on %v values", ct.GetName(), ct.GetType()))
		}
	}
	return nil
}

func fieldNames(sc *datav1.Schema) []string {
	names := make([]string, len(sc.GetFields()))
	for i, f := range sc.GetFields() {
		names[i] = f.GetName()
	}
	return names
}

// listNames formats column names for a status message, capped so that a
// wide table does not make a huge one.
func listNames(names []string) string {
	const show = 20
	q := make([]string, 0, min(len(names), show))
	for _, n := range names[:min(len(names), show)] {
		q = append(q, fmt.Sprintf("%q", n))
	}
	s := strings.Join(q, ", ")
	if len(names) > show {
		s += fmt.Sprintf(" and %d more", len(names)-show)
	}
	return s
}

// toStatus maps a library error to its status: a named field to
// InvalidArgument, a limit to ResourceExhausted, and any other library
// error — data that cannot be prepared as asked, such as too few rows or no
// usable feature — to FailedPrecondition. Status errors pass through.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var (
		oe  *dataprep.OptionError
		poe *profile.OptionError
		fe  *tablepb.FieldError
		le  *tablepb.LimitError
	)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return serverkit.FromContext(err)
	case errors.As(err, &oe):
		return serverkit.InvalidArgument(oe.Field, oe.Reason)
	case errors.As(err, &poe):
		return serverkit.InvalidArgument(poe.Field, poe.Reason)
	case errors.As(err, &fe):
		return serverkit.InvalidArgument(fe.Field, fe.Reason)
	case errors.As(err, &le):
		return serverkit.ResourceExhausted(le.Limit, fmt.Sprintf("the table exceeds this server's limit of %d", le.Max))
	}
	return serverkit.Errorf(codes.FailedPrecondition, "%v", err)
}

// recvError turns a Recv failure into the status to return: the context's
// (canceled, deadline) when it is done, the stream's status otherwise.
func recvError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return serverkit.Errorf(codes.Internal, "receiving: %v", err)
}

// sendError passes a stream's own error through and reports anything else
// (a prepared table tablepb refused) as Internal: it is this server's bug.
func sendError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return serverkit.Errorf(codes.Internal, "sending the prepared table: %v", err)
}
