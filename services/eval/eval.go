// Package eval is the EvalService: a thin gRPC shell that scores a trained
// alur.data.v1.Model on prepared rows (Evaluate) and predicts on raw rows
// through the fitted transform (Predict). Both take the model as parts of
// its serialized bytes, so the service holds no state; the arithmetic lives
// in ml/algo, ml/dataprep and ml/metrics, the same code training used.
package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin"  // registers the algorithms
	_ "github.com/alur-ml/alur/ml/algo/ensemble" // reads the ensembles a run builds
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/metrics"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	"github.com/alur-ml/alur/serverkit"
)

const (
	// DefaultMaxRows is the row limit used when Config.MaxRows is 0.
	DefaultMaxRows = 10_000_000
	// DefaultMaxColumns is the column limit used when Config.MaxColumns is 0.
	DefaultMaxColumns = 10_000
	// DefaultMaxModelBytes is the model size limit used when
	// Config.MaxModelBytes is 0.
	DefaultMaxModelBytes = 512 << 20
	// MaxPredictionRows is the row count above which Evaluate leaves the
	// predictions out, as the contract says.
	MaxPredictionRows = 100_000
	// MaxResponseBytes bounds the encoded size of a response: the design
	// keeps every message well under 1 MiB. Evaluate drops its predictions
	// to stay below it; Predict refuses a request whose answer would not fit.
	MaxResponseBytes = 768 << 10
)

// Config holds the server's limits.
type Config struct {
	// MaxRows caps the rows of an evaluation table or of a predict request;
	// 0 means DefaultMaxRows.
	MaxRows int64
	// MaxModelBytes caps the serialized model; 0 means DefaultMaxModelBytes.
	MaxModelBytes int64
	// MaxColumns caps the columns of an evaluation table; 0 means
	// DefaultMaxColumns.
	MaxColumns int
}

// Server implements evalv1.EvalServiceServer. It holds only its limits, so
// one Server serves any number of concurrent streams.
type Server struct {
	evalv1.UnimplementedEvalServiceServer
	cfg Config
}

// NewServer returns a Server with cfg's limits, defaults filled in.
func NewServer(cfg Config) *Server {
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.MaxModelBytes <= 0 {
		cfg.MaxModelBytes = DefaultMaxModelBytes
	}
	if cfg.MaxColumns <= 0 {
		cfg.MaxColumns = DefaultMaxColumns
	}
	return &Server{cfg: cfg}
}

// modelBuffer concatenates model parts under the size limit.
type modelBuffer struct {
	buf []byte
	max int64
}

// add appends one part, or fails with ResourceExhausted past the limit.
func (b *modelBuffer) add(part []byte) error {
	if int64(len(b.buf))+int64(len(part)) > b.max {
		return serverkit.ResourceExhausted("max_model_bytes", fmt.Sprintf("the model is larger than %d bytes", b.max))
	}
	b.buf = append(b.buf, part...)
	return nil
}

// model decodes and sanity-checks the concatenated parts. Errors are
// InvalidArgument on "model_part".
func (b *modelBuffer) model() (*datav1.Model, error) {
	if len(b.buf) == 0 {
		return nil, serverkit.InvalidArgument("model_part", "required: no model parts came before the data")
	}
	m := &datav1.Model{}
	if err := proto.Unmarshal(b.buf, m); err != nil {
		return nil, serverkit.InvalidArgument("model_part", fmt.Sprintf("not a valid alur.data.v1.Model: %v", err))
	}
	if err := checkModel(m); err != nil {
		return nil, serverkit.InvalidArgument("model_part", err.Error())
	}
	return m, nil
}

// checkModel verifies what the handlers rely on before predicting; the
// algorithm's Predict validates its own parameters.
func checkModel(m *datav1.Model) error {
	if _, ok := algo.Lookup(m.GetAlgorithm()); !ok {
		return fmt.Errorf("not a valid alur.data.v1.Model: unknown algorithm %q", m.GetAlgorithm())
	}
	if len(m.GetFeatureNames()) == 0 {
		return errors.New("not a valid alur.data.v1.Model: no feature names")
	}
	switch m.GetTask() {
	case datav1.Task_TASK_CLASSIFICATION:
		if len(m.GetClassNames()) < 2 {
			return fmt.Errorf("not a valid alur.data.v1.Model: a classification model needs at least 2 class names, has %d", len(m.GetClassNames()))
		}
	case datav1.Task_TASK_REGRESSION:
	default:
		return fmt.Errorf("not a valid alur.data.v1.Model: task %v", m.GetTask())
	}
	return nil
}

// tableError maps a tablepb error to a status: a *FieldError becomes
// InvalidArgument naming its field under prefix, a *LimitError ResourceExhausted
// naming the limit, anything else InvalidArgument on field.
func tableError(err error, prefix, field string) error {
	var fe *tablepb.FieldError
	if errors.As(err, &fe) {
		fe = fe.WithPrefix(prefix)
		return serverkit.InvalidArgument(fe.Field, fe.Reason)
	}
	var le *tablepb.LimitError
	if errors.As(err, &le) {
		return serverkit.ResourceExhausted(le.Limit, fmt.Sprintf("the rows are too many or too wide: at most %d allowed", le.Max))
	}
	return serverkit.InvalidArgument(field, err.Error())
}

// prepError maps an ml/dataprep error to InvalidArgument. An *OptionError
// naming a transform field keeps it; any other field ("schema", "batch")
// refers to the table prep saw, which in this request is field.
func prepError(err error, field string) error {
	var oe *dataprep.OptionError
	if errors.As(err, &oe) {
		if strings.HasPrefix(oe.Field, "transform") {
			return serverkit.InvalidArgument(oe.Field, oe.Reason)
		}
		return serverkit.InvalidArgument(field, oe.Reason)
	}
	return serverkit.InvalidArgument(field, err.Error())
}

// recvError turns a Recv failure into the status to return: the stream's
// own status when it has one (cancellation, deadline), Internal otherwise.
func recvError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return serverkit.Errorf(codes.Internal, "receiving: %v", err)
}

// predict runs the model and checks the shape of its answer: rows × classes
// for classification, rows × 1 for regression. A model whose parameters do
// not fit its own header is an InvalidArgument on "model_part".
func predict(m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
	out, err := algo.Predict(m, X)
	if err != nil {
		return nil, serverkit.InvalidArgument("model_part", fmt.Sprintf("the model cannot predict: %v", err))
	}
	rows, _ := X.Dims()
	want := 1
	if m.GetTask() == datav1.Task_TASK_CLASSIFICATION {
		want = len(m.GetClassNames())
	}
	if out == nil {
		return nil, serverkit.InvalidArgument("model_part", "the model returned no predictions")
	}
	if r, c := out.Dims(); r != rows || c != want {
		return nil, serverkit.InvalidArgument("model_part",
			fmt.Sprintf("the model answered %d×%d for %d rows, want %d columns", r, c, rows, want))
	}
	return out, nil
}

// argmax returns the index of the largest value of row i, the lowest on
// ties, as metrics.Classification does; NaNs never win.
func argmax(p *mat.Dense, i int) int {
	_, c := p.Dims()
	best, bestV := 0, math.Inf(-1)
	for j := 0; j < c; j++ {
		if v := p.At(i, j); v > bestV {
			best, bestV = j, v
		}
	}
	return best
}

// checkFeatures compares the prepared schema's features (every column but
// the label, in order) with the model's, naming the first difference.
func checkFeatures(schema *datav1.Schema, label string, m *datav1.Model) error {
	var got []string
	hasLabel := false
	for _, f := range schema.GetFields() {
		if f.GetName() == label {
			hasLabel = true
			continue
		}
		got = append(got, f.GetName())
	}
	if !hasLabel {
		return serverkit.InvalidArgument("label", fmt.Sprintf("no column %q in the schema", label))
	}
	want := m.GetFeatureNames()
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			return serverkit.InvalidArgument("schema",
				fmt.Sprintf("missing feature %q (feature %d of the model's %d)", want[i], i, len(want)))
		case i >= len(want):
			return serverkit.InvalidArgument("schema",
				fmt.Sprintf("extra feature %q: the model has %d features", got[i], len(want)))
		case got[i] != want[i]:
			return serverkit.InvalidArgument("schema",
				fmt.Sprintf("feature %d is %q, the model expects %q", i, got[i], want[i]))
		}
	}
	return nil
}

// Evaluate scores a model on prepared rows that carry the label: model
// parts first, then the schema, then batches.
func (s *Server) Evaluate(stream grpc.ClientStreamingServer[evalv1.EvaluateRequest, evalv1.EvaluateResponse]) error {
	ctx := stream.Context()
	mb := &modelBuffer{max: s.cfg.MaxModelBytes}
	col := &tablepb.Collector{MaxRows: s.cfg.MaxRows, MaxColumns: s.cfg.MaxColumns, MaxCategories: tablepb.DefaultMaxCategories}
	var (
		model        *datav1.Model
		schema       *datav1.Schema
		label        string
		checkedLabel string
		wantOutputs  bool
	)
	// resolve is the label in force: the first one a message set, else the
	// last column of the schema.
	resolve := func() string {
		if label != "" {
			return label
		}
		if f := schema.GetFields(); len(f) > 0 {
			return f[len(f)-1].GetName()
		}
		return ""
	}
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return recvError(ctx, err)
		}
		if label == "" {
			label = req.GetLabel()
		}
		wantOutputs = wantOutputs || req.GetReturnOutputs()
		switch p := req.GetPart().(type) {
		case *evalv1.EvaluateRequest_ModelPart:
			if schema != nil {
				return serverkit.InvalidArgument("model_part", "all model parts must come before the schema")
			}
			if err := mb.add(p.ModelPart); err != nil {
				return err
			}
		case *evalv1.EvaluateRequest_Schema:
			if model == nil {
				if model, err = mb.model(); err != nil {
					return err
				}
			}
			if err := col.Schema(p.Schema); err != nil {
				return tableError(err, "", "schema")
			}
			schema = p.Schema
			// Check the features now, before the rows stream in; a label set
			// by a later message is checked again at the end.
			checkedLabel = resolve()
			if err := checkFeatures(schema, checkedLabel, model); err != nil {
				return err
			}
		case *evalv1.EvaluateRequest_Batch:
			if err := col.Batch(p.Batch); err != nil {
				return tableError(err, "", "batch")
			}
		default:
			if req.GetLabel() == "" {
				return serverkit.InvalidArgument("part", "empty message: set model_part, schema or batch")
			}
		}
	}
	if model == nil {
		if _, err := mb.model(); err != nil {
			return err
		}
		return serverkit.InvalidArgument("schema", "required: the stream closed before the schema")
	}
	lbl := resolve()
	if lbl != checkedLabel {
		if err := checkFeatures(schema, lbl, model); err != nil {
			return err
		}
	}
	t, err := col.Table()
	if err != nil {
		return tableError(err, "", "schema")
	}
	resp, proba, err := evaluate(model, t, lbl)
	if err != nil {
		return err
	}
	if wantOutputs {
		if err := addOutputs(resp, proba); err != nil {
			return err
		}
	}
	return stream.SendAndClose(resp)
}

// MaxOutputValues caps EvaluateResponse.outputs (rows × outputs per row),
// so that the response stays within MaxResponseBytes.
const MaxOutputValues = 90_000

// addOutputs puts the model's raw outputs (rows × width) on resp.
func addOutputs(resp *evalv1.EvaluateResponse, out *mat.Dense) error {
	rows, width := out.Dims()
	if rows*width > MaxOutputValues {
		return serverkit.ResourceExhausted("return_outputs",
			fmt.Sprintf("%d rows of %d outputs are %d values, over the %d one answer holds: send fewer rows per call", rows, width, rows*width, MaxOutputValues))
	}
	resp.OutputWidth = int32(width)
	resp.Outputs = make([]float64, 0, rows*width)
	for i := range rows {
		resp.Outputs = append(resp.Outputs, out.RawRowView(i)...)
	}
	// The labels repeat what the outputs say; drop them if both would
	// not fit in one answer.
	if proto.Size(resp) > MaxResponseBytes {
		resp.Predictions = nil
	}
	return nil
}

// evaluate predicts the table's rows and scores them against the label;
// it also returns the model's raw outputs.
func evaluate(m *datav1.Model, t *table.Table, label string) (*evalv1.EvaluateResponse, *mat.Dense, error) {
	n := t.NumRows()
	if n == 0 {
		return nil, nil, serverkit.InvalidArgument("batch", "no rows to evaluate")
	}
	pd, err := dataprep.FromPrepared(t, label)
	if err != nil {
		return nil, nil, serverkit.Errorf(codes.FailedPrecondition, "the rows are not a prepared table: %v", err)
	}
	if pd.Task != m.GetTask() {
		return nil, nil, serverkit.InvalidArgument("label",
			fmt.Sprintf("the label %q makes the rows %v but the model is %v", label, pd.Task, m.GetTask()))
	}
	proba, err := predict(m, pd.X)
	if err != nil {
		return nil, nil, err
	}
	resp := &evalv1.EvaluateResponse{Metrics: &datav1.Metrics{NumSamples: int64(n)}}
	preds := make([]string, 0, n)
	if m.GetTask() == datav1.Task_TASK_CLASSIFICATION {
		yTrue, err := classIndexes(pd, m.GetClassNames())
		if err != nil {
			return nil, nil, err
		}
		cm, err := metrics.Classification(yTrue, proba, m.GetClassNames())
		if err != nil {
			return nil, nil, serverkit.Errorf(codes.FailedPrecondition, "scoring: %v", err)
		}
		resp.Metrics.Kind = &datav1.Metrics_Classification{Classification: cm}
		for i := 0; i < n; i++ {
			preds = append(preds, m.GetClassNames()[argmax(proba, i)])
		}
	} else {
		yPred := mat.Col(nil, 0, proba)
		rm, err := metrics.Regression(pd.Y, yPred)
		if err != nil {
			return nil, nil, serverkit.Errorf(codes.FailedPrecondition, "scoring: %v", err)
		}
		resp.Metrics.Kind = &datav1.Metrics_Regression{Regression: rm}
		for _, v := range yPred {
			preds = append(preds, strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	if n <= MaxPredictionRows {
		resp.Predictions = preds
		if proto.Size(resp) > MaxResponseBytes {
			resp.Predictions = nil
		}
	}
	return resp, proba, nil
}

// classIndexes maps the rows' labels (indexes into the table's class
// names) to indexes into the model's class names, which may differ in
// order or count when the rows were prepared separately.
func classIndexes(pd *dataprep.PreparedData, modelClasses []string) ([]int, error) {
	idx := make(map[string]int, len(modelClasses))
	for i, c := range modelClasses {
		idx[c] = i
	}
	remap := make([]int, len(pd.ClassNames))
	for i, c := range pd.ClassNames {
		j, ok := idx[c]
		if !ok {
			j = -1
		}
		remap[i] = j
	}
	out := make([]int, len(pd.Y))
	for r, y := range pd.Y {
		k := int(y)
		if float64(k) != y || k < 0 || k >= len(remap) {
			return nil, serverkit.Errorf(codes.FailedPrecondition, "row %d: label %g is not a class index", r, y)
		}
		if remap[k] < 0 {
			return nil, serverkit.InvalidArgument("batch",
				fmt.Sprintf("row %d: class %q is not one of the model's classes %q", r, pd.ClassNames[k], modelClasses))
		}
		out[r] = remap[k]
	}
	return out, nil
}

// Predict applies the fitted transform and the model to raw text rows:
// model parts first, then the transform, then one or more rows messages.
func (s *Server) Predict(stream grpc.ClientStreamingServer[evalv1.PredictRequest, evalv1.PredictResponse]) error {
	ctx := stream.Context()
	mb := &modelBuffer{max: s.cfg.MaxModelBytes}
	var (
		model *datav1.Model
		tr    *datav1.FittedTransform
		rows  *datav1.RawRows
	)
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return recvError(ctx, err)
		}
		switch p := req.GetPart().(type) {
		case *evalv1.PredictRequest_ModelPart:
			if tr != nil || rows != nil {
				return serverkit.InvalidArgument("model_part", "all model parts must come before the transform and the rows")
			}
			if err := mb.add(p.ModelPart); err != nil {
				return err
			}
		case *evalv1.PredictRequest_Transform:
			if tr != nil {
				return serverkit.InvalidArgument("transform", "sent twice")
			}
			if rows != nil {
				return serverkit.InvalidArgument("transform", "must come before the rows")
			}
			if model, err = mb.model(); err != nil {
				return err
			}
			if err := checkTransform(p.Transform, model); err != nil {
				return err
			}
			tr = p.Transform
		case *evalv1.PredictRequest_Rows:
			if tr == nil {
				return serverkit.InvalidArgument("transform", "required before the rows")
			}
			if rows, err = appendRows(rows, p.Rows, s.maxPredictRows()); err != nil {
				return err
			}
		default:
			return serverkit.InvalidArgument("part", "empty message: set model_part, transform or rows")
		}
	}
	if tr == nil {
		if _, err := mb.model(); err != nil {
			return err
		}
		return serverkit.InvalidArgument("transform", "required: the stream closed before the transform")
	}
	if len(rows.GetRows()) == 0 {
		return serverkit.InvalidArgument("rows", "no rows to predict")
	}
	t, err := tablepb.FromRawRows(rows, tr.GetInputSchema())
	if err != nil {
		return tableError(err, "rows", "rows")
	}
	X, err := dataprep.ApplyFeatures(tr, t)
	if err != nil {
		return prepError(err, "rows")
	}
	out, err := predict(model, X)
	if err != nil {
		return err
	}
	resp := predictResponse(model, out)
	if size := proto.Size(resp); size > MaxResponseBytes {
		return serverkit.ResourceExhausted("max_response_bytes",
			fmt.Sprintf("the answer for %d rows would be %d bytes, above the %d-byte message limit: send fewer rows per call",
				len(rows.GetRows()), size, MaxResponseBytes))
	}
	return stream.SendAndClose(resp)
}

// maxPredictRows is the most rows one Predict call takes: MaxRows, and no
// more than could possibly fit in one answer, since every prediction takes
// at least two bytes on the wire. Rejecting them as they arrive saves
// computing an answer that could not be sent.
func (s *Server) maxPredictRows() int64 {
	return min(s.cfg.MaxRows, MaxResponseBytes/2)
}

// checkTransform validates a transform received over the wire and checks it
// produces the features the model was trained on.
func checkTransform(tr *datav1.FittedTransform, m *datav1.Model) error {
	if err := dataprep.ValidateTransform(tr); err != nil {
		return prepError(err, "transform")
	}
	if err := tablepb.ValidateSchema(tr.GetInputSchema()); err != nil {
		var fe *tablepb.FieldError
		if errors.As(err, &fe) {
			return serverkit.InvalidArgument("transform.input_"+fe.Field, fe.Reason)
		}
		return serverkit.InvalidArgument("transform.input_schema", err.Error())
	}
	inSchema := make(map[string]bool, len(tr.GetInputSchema().GetFields()))
	for _, f := range tr.GetInputSchema().GetFields() {
		inSchema[f.GetName()] = true
	}
	for i, ct := range tr.GetColumns() {
		if ct.GetAction() != datav1.ColumnAction_COLUMN_ACTION_DROP && !inSchema[ct.GetName()] {
			return serverkit.InvalidArgument(fmt.Sprintf("transform.columns[%d].name", i),
				fmt.Sprintf("%q is not a field of transform.input_schema", ct.GetName()))
		}
	}
	got, want := tr.GetFeatureNames(), m.GetFeatureNames()
	if len(got) != len(want) {
		return serverkit.InvalidArgument("transform.feature_names",
			fmt.Sprintf("the transform makes %d features, the model expects %d", len(got), len(want)))
	}
	for i := range got {
		if got[i] != want[i] {
			return serverkit.InvalidArgument(fmt.Sprintf("transform.feature_names[%d]", i),
				fmt.Sprintf("%q, the model expects %q", got[i], want[i]))
		}
	}
	return nil
}

// appendRows adds one rows message to the rows so far. Every message must
// name the same columns, and the total stays within maxRows.
func appendRows(acc, next *datav1.RawRows, maxRows int64) (*datav1.RawRows, error) {
	if acc == nil {
		acc = &datav1.RawRows{Columns: next.GetColumns()}
	} else {
		if len(next.GetColumns()) != len(acc.GetColumns()) {
			return nil, serverkit.InvalidArgument("rows.columns",
				fmt.Sprintf("%d columns, but the first rows message named %d", len(next.GetColumns()), len(acc.GetColumns())))
		}
		for i, c := range next.GetColumns() {
			if c != acc.GetColumns()[i] {
				return nil, serverkit.InvalidArgument(fmt.Sprintf("rows.columns[%d]", i),
					fmt.Sprintf("%q, but the first rows message named %q", c, acc.GetColumns()[i]))
			}
		}
	}
	if int64(len(acc.GetRows()))+int64(len(next.GetRows())) > maxRows {
		return nil, serverkit.ResourceExhausted("max_rows", fmt.Sprintf("more than %d rows to predict", maxRows))
	}
	acc.Rows = append(acc.Rows, next.GetRows()...)
	return acc, nil
}

// predictResponse turns the model's output into one Prediction per row:
// for classification the argmax class (name and index) with the
// probabilities, for regression the value.
func predictResponse(m *datav1.Model, out *mat.Dense) *evalv1.PredictResponse {
	rows, cols := out.Dims()
	resp := &evalv1.PredictResponse{Predictions: make([]*evalv1.Prediction, rows)}
	if m.GetTask() != datav1.Task_TASK_CLASSIFICATION {
		for i := range rows {
			resp.Predictions[i] = &evalv1.Prediction{Value: out.At(i, 0)}
		}
		return resp
	}
	classes := m.GetClassNames()
	resp.ClassNames = classes
	for i := range rows {
		k := argmax(out, i)
		resp.Predictions[i] = &evalv1.Prediction{
			Label:         classes[k],
			Value:         float64(k),
			Probabilities: mat.Row(make([]float64, cols), i, out),
		}
	}
	return resp
}
