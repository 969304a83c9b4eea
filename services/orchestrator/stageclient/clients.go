package stageclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/fault"
)

// Source is a resolved run source: a bundled name, a server-side path or
// URL, or a stored upload to stream.
type Source struct {
	Bundled, Path, URL string
	CSV                *ingestv1.CsvOptions
	// Upload, when not nil, streams a stored file's bytes to send.
	Upload func(send func([]byte) error) error
}

// Config says where the stages are and how long their calls may take.
type Config struct {
	// IngestAddr, PrepAddr, TrainAddr and EvalAddr are the stage services:
	// each a host:port, a gRPC target or a comma-separated list of replicas.
	IngestAddr, PrepAddr, TrainAddr, EvalAddr string
	// StepTimeout bounds one data stage call (collect, profile, prepare,
	// evaluate, predict); TrainTimeout bounds one training call.
	StepTimeout, TrainTimeout time.Duration
	// DialOptions apply to every stage connection.
	DialOptions []grpc.DialOption
}

// Clients holds a client per stage service. The stages are stateless, so
// every call carries its inputs by value and any replica can answer it.
// Every method returns typed errors (package fault): a stage's status keeps
// its code and details and gains a kind the engine can test with errors.Is.
type Clients struct {
	ingest ingestv1.IngestServiceClient
	prep   prepv1.PrepServiceClient
	train  trainv1.TrainServiceClient
	eval   evalv1.EvalServiceClient
	conns  []*grpc.ClientConn
	// catalog keeps the algorithms train serves, refreshed when the train
	// connection is re-established.
	catalog *Catalog

	// stepTimeout bounds one data stage call (collect, profile, prepare,
	// evaluate); trainTimeout bounds one training call.
	stepTimeout, trainTimeout time.Duration
}

// Dial connects to the four stages. Connections are lazy: a stage that is
// down fails its calls with fault.ErrStageUnavailable, not Dial.
func Dial(cfg Config) (*Clients, error) {
	s := &Clients{stepTimeout: cfg.StepTimeout, trainTimeout: cfg.TrainTimeout}
	dial := func(name, addr string) (*grpc.ClientConn, error) {
		if addr == "" {
			return nil, fmt.Errorf("no address for the %s service", name)
		}
		c, err := serverkit.Dial(addr, cfg.DialOptions...)
		if err != nil {
			return nil, fmt.Errorf("dial %s at %s: %w", name, addr, err)
		}
		s.conns = append(s.conns, c)
		return c, nil
	}
	var err error
	var c *grpc.ClientConn
	if c, err = dial("ingest", cfg.IngestAddr); err != nil {
		return nil, s.closeWith(err)
	}
	s.ingest = ingestv1.NewIngestServiceClient(c)
	if c, err = dial("prep", cfg.PrepAddr); err != nil {
		return nil, s.closeWith(err)
	}
	s.prep = prepv1.NewPrepServiceClient(c)
	if c, err = dial("train", cfg.TrainAddr); err != nil {
		return nil, s.closeWith(err)
	}
	s.train = trainv1.NewTrainServiceClient(c)
	s.catalog = NewCatalog(c, 0)
	if c, err = dial("eval", cfg.EvalAddr); err != nil {
		return nil, s.closeWith(err)
	}
	s.eval = evalv1.NewEvalServiceClient(c)
	return s, nil
}

func (s *Clients) closeWith(err error) error {
	s.Close()
	return err
}

// ResetBackoff makes every stage connection that is waiting out a
// reconnect backoff try again now: after a stage comes back, the next
// retry reaches it at once instead of after gRPC's backoff, which grows to
// minutes.
func (s *Clients) ResetBackoff() {
	for _, c := range s.conns {
		c.ResetConnectBackoff()
	}
}

// Close stops the catalog's watch and closes every stage connection.
func (s *Clients) Close() {
	if s.catalog != nil {
		s.catalog.Close()
	}
	for _, c := range s.conns {
		_ = c.Close()
	}
}

// tableParts is what every table-returning stream carries.
type tableParts interface {
	GetSchema() *datav1.Schema
	GetBatch() *datav1.TableBatch
	GetSummary() *datav1.TableSummary
}

// Collect reads a source through the ingest service: a stored upload is
// streamed to ingest's Upload, any other source is read by ingest itself.
func (s *Clients) Collect(ctx context.Context, src Source) (*table.Table, *datav1.TableSummary, *ingestv1.IngestReport, error) {
	t, sum, rep, err := s.collect(ctx, src)
	return t, sum, rep, fault.FromStage(err)
}

func (s *Clients) collect(ctx context.Context, src Source) (*table.Table, *datav1.TableSummary, *ingestv1.IngestReport, error) {
	ctx, cancel := context.WithTimeout(ctx, s.stepTimeout)
	defer cancel()
	var recv func() (tableParts, error)
	if src.Upload != nil {
		stream, err := s.ingest.Upload(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		errc := make(chan error, 1)
		go func() {
			err := func() error {
				if err := stream.Send(&ingestv1.UploadRequest{Part: &ingestv1.UploadRequest_Options{Options: src.CSV}}); err != nil {
					return err
				}
				if err := src.Upload(func(chunk []byte) error {
					return stream.Send(&ingestv1.UploadRequest{Part: &ingestv1.UploadRequest_Chunk{Chunk: chunk}})
				}); err != nil {
					return err
				}
				return stream.CloseSend()
			}()
			if err != nil && !errors.Is(err, io.EOF) {
				// The upload could not be read (its store is away):
				// end the call, or ingest waits for the rest until the
				// step's deadline.
				cancel()
			}
			errc <- err
		}()
		recv = func() (tableParts, error) { return stream.Recv() }
		t, sum, rep, err := receiveTable(recv)
		if sendErr := <-errc; sendErr != nil && !errors.Is(sendErr, io.EOF) && (err == nil || status.Code(err) == codes.Canceled) {
			err = sendErr
		}
		return t, sum, rep, err
	}
	req := &ingestv1.ReadRequest{Options: src.CSV}
	switch {
	case src.Bundled != "":
		req.Source = &ingestv1.ReadRequest_Bundled{Bundled: src.Bundled}
	case src.URL != "":
		req.Source = &ingestv1.ReadRequest_Url{Url: src.URL}
	default:
		req.Source = &ingestv1.ReadRequest_Path{Path: src.Path}
	}
	stream, err := s.ingest.Read(ctx, req)
	if err != nil {
		return nil, nil, nil, err
	}
	return receiveTable(func() (tableParts, error) { return stream.Recv() })
}

// ingestParts is the report part of ingest's table streams.
type ingestParts interface {
	GetReport() *ingestv1.IngestReport
}

// receiveTable collects schema, batches, summary and, from ingest, the
// read's report from a table stream.
func receiveTable(recv func() (tableParts, error)) (*table.Table, *datav1.TableSummary, *ingestv1.IngestReport, error) {
	var c tablepb.Collector
	var sum *datav1.TableSummary
	var rep *ingestv1.IngestReport
	for {
		m, err := recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, nil, err
		}
		switch {
		case m.GetSchema() != nil:
			err = c.Schema(m.GetSchema())
		case m.GetBatch() != nil:
			err = c.Batch(m.GetBatch())
		case m.GetSummary() != nil:
			sum = m.GetSummary()
		default:
			if r, ok := m.(ingestParts); ok && r.GetReport() != nil {
				rep = r.GetReport()
			}
		}
		if err != nil {
			return nil, nil, nil, status.Errorf(codes.Internal, "stage sent a bad table: %v", err)
		}
	}
	t, err := c.Table()
	if err != nil {
		return nil, nil, nil, status.Errorf(codes.Internal, "stage sent a bad table: %v", err)
	}
	return t, sum, rep, nil
}

// Profile asks prep for the table's profile.
func (s *Clients) Profile(ctx context.Context, t *table.Table, label string) (*datav1.DataProfile, error) {
	p, err := s.profile(ctx, t, label)
	return p, fault.FromStage(err)
}

func (s *Clients) profile(ctx context.Context, t *table.Table, label string) (*datav1.DataProfile, error) {
	ctx, cancel := context.WithTimeout(ctx, s.stepTimeout)
	defer cancel()
	stream, err := s.prep.Profile(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Options{Options: &prepv1.ProfileOptions{Label: label}}}); err != nil {
		return nil, RecvErr(stream, err)
	}
	err = tablepb.Send(t, 0,
		func(sc *datav1.Schema) error {
			return stream.Send(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Schema{Schema: sc}})
		},
		func(b *datav1.TableBatch) error {
			return stream.Send(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Batch{Batch: b}})
		})
	if err != nil {
		return nil, RecvErr(stream, err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, err
	}
	return resp.GetProfile(), nil
}

// Prepared is the answer of the prepare stage: the fitted transform and the
// train, validation and test rows it produced.
type Prepared struct {
	Transform *datav1.FittedTransform
	Splits    map[prepv1.Split]*table.Table
}

// Prepare asks prep to split, fit and apply.
func (s *Clients) Prepare(ctx context.Context, t *table.Table, opts *prepv1.PrepareOptions) (*Prepared, error) {
	ctx, cancel := context.WithTimeout(ctx, s.stepTimeout)
	defer cancel()
	p, err := Prepare(ctx, s.prep, t, opts)
	return p, fault.FromStage(err)
}

// Prepare streams opts and the raw table t to PrepService.Prepare and
// collects the transform and the three splits. A split prep sent no rows
// for is FailedPrecondition: the dataset is too small for the split asked.
func Prepare(ctx context.Context, c prepv1.PrepServiceClient, t *table.Table, opts *prepv1.PrepareOptions) (*Prepared, error) {
	stream, err := c.Prepare(ctx)
	if err != nil {
		return nil, err
	}
	// Send in the background: prep streams splits while it receives.
	errc := make(chan error, 1)
	go func() { errc <- sendPrepare(stream, t, opts) }()
	var transform *datav1.FittedTransform
	var splits splitCollectors
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if m.GetTransform() != nil {
			transform = m.GetTransform()
		}
		if err := splits.add(m.GetBatch()); err != nil {
			return nil, err
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if transform == nil {
		return nil, status.Error(codes.Internal, "prep sent no transform")
	}
	tables, err := splits.tables()
	if err != nil {
		return nil, err
	}
	return &Prepared{Transform: transform, Splits: tables}, nil
}

// sendPrepare sends the options, then the table, then closes the send
// side.
func sendPrepare(stream prepv1.PrepService_PrepareClient, t *table.Table, opts *prepv1.PrepareOptions) error {
	if err := stream.Send(&prepv1.PrepareRequest{Part: &prepv1.PrepareRequest_Options{Options: opts}}); err != nil {
		return err
	}
	err := tablepb.Send(t, 0,
		func(sc *datav1.Schema) error {
			return stream.Send(&prepv1.PrepareRequest{Part: &prepv1.PrepareRequest_Schema{Schema: sc}})
		},
		func(b *datav1.TableBatch) error {
			return stream.Send(&prepv1.PrepareRequest{Part: &prepv1.PrepareRequest_Batch{Batch: b}})
		})
	if err != nil {
		return err
	}
	return stream.CloseSend()
}

// splitCollectors assembles the tables of the splits prep streams,
// interleaved.
type splitCollectors map[prepv1.Split]*tablepb.Collector

// add takes one split batch (nil is ignored).
func (s *splitCollectors) add(sb *prepv1.SplitBatch) error {
	if sb == nil {
		return nil
	}
	if *s == nil {
		*s = splitCollectors{}
	}
	c := (*s)[sb.GetSplit()]
	if c == nil {
		c = &tablepb.Collector{}
		(*s)[sb.GetSplit()] = c
	}
	var err error
	if sb.GetSchema() != nil {
		err = c.Schema(sb.GetSchema())
	}
	if err == nil && sb.GetBatch() != nil {
		err = c.Batch(sb.GetBatch())
	}
	if err != nil {
		return status.Errorf(codes.Internal, "prep sent a bad %v table: %v", sb.GetSplit(), err)
	}
	return nil
}

// tables returns the train, validation and test tables. A split with no
// rows means the dataset is too small for the split asked.
func (s splitCollectors) tables() (map[prepv1.Split]*table.Table, error) {
	out := map[prepv1.Split]*table.Table{}
	for _, sp := range []prepv1.Split{prepv1.Split_SPLIT_TRAIN, prepv1.Split_SPLIT_VALIDATION, prepv1.Split_SPLIT_TEST} {
		c := s[sp]
		if c == nil {
			return nil, status.Errorf(codes.FailedPrecondition, "prepare produced no %s rows: the dataset is too small for the requested split", SplitWord(sp))
		}
		t, err := c.Table()
		if err != nil {
			return nil, status.Errorf(codes.Internal, "prep sent a bad %v table: %v", sp, err)
		}
		out[sp] = t
	}
	return out, nil
}

// SplitWord names a split in messages and artifact names.
func SplitWord(sp prepv1.Split) string {
	switch sp {
	case prepv1.Split_SPLIT_TRAIN:
		return "train"
	case prepv1.Split_SPLIT_VALIDATION:
		return "validation"
	case prepv1.Split_SPLIT_TEST:
		return "test"
	}
	return sp.String()
}

// Train fits one model and returns the serialized model and the result.
func (s *Clients) Train(ctx context.Context, cfg *trainv1.TrainConfig, t *table.Table, progress func(*trainv1.TrainProgress)) ([]byte, *trainv1.TrainResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.trainTimeout)
	defer cancel()
	model, res, err := Train(ctx, s.train, cfg, t, progress)
	if refusesAlgorithm(err) {
		// Train no longer knows an algorithm the catalog listed: the
		// service changed behind a connection that stayed up.
		s.catalog.Invalidate()
	}
	return model, res, fault.FromStage(err)
}

// Algorithms returns the algorithms train serves (cached; see Catalog).
// When train cannot be asked, the error is fault.ErrStageUnavailable
// naming train, whatever the transport said.
func (s *Clients) Algorithms(ctx context.Context) (*algo.Catalog, error) {
	cat, err := s.catalog.Get(ctx)
	if err != nil {
		return nil, fault.New(codes.Unavailable, "train service: cannot list its algorithms: %v", status.Convert(err).Message())
	}
	return cat, nil
}

// refusesAlgorithm reports whether err is train refusing the config's
// algorithm (an InvalidArgument naming config.algorithm).
func refusesAlgorithm(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return false
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == "config.algorithm" {
					return true
				}
			}
		}
	}
	return false
}

// Evaluate scores a model on a prepared table.
func (s *Clients) Evaluate(ctx context.Context, model []byte, t *table.Table, label string) (*datav1.Metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, s.stepTimeout)
	defer cancel()
	m, err := Evaluate(ctx, s.eval, model, t, label)
	return m, fault.FromStage(err)
}

// MaxOutputValues is the most raw outputs (rows × outputs per row) one
// Evaluate answer holds; Outputs splits the rows to stay within it.
const MaxOutputValues = 90_000

// Outputs asks eval for the model's raw outputs on the prepared table t:
// rows × width (the class probabilities in the model's class order, or
// the predicted value). width is the model's outputs per row; the rows
// go in as many Evaluate calls as the answers' size limit needs.
func (s *Clients) Outputs(ctx context.Context, model []byte, t *table.Table, label string, width int) (*mat.Dense, error) {
	ctx, cancel := context.WithTimeout(ctx, s.stepTimeout)
	defer cancel()
	out, err := s.outputs(ctx, model, t, label, width)
	return out, fault.FromStage(err)
}

func (s *Clients) outputs(ctx context.Context, model []byte, t *table.Table, label string, width int) (*mat.Dense, error) {
	n := t.NumRows()
	if n == 0 || width < 1 {
		return nil, fmt.Errorf("outputs of %d rows × %d: nothing to ask", n, width)
	}
	out := mat.NewDense(n, width, nil)
	per := max(1, MaxOutputValues/width)
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		part := t
		if lo > 0 || hi < n {
			rows := make([]int, hi-lo)
			for i := range rows {
				rows[i] = lo + i
			}
			part = t.Take(rows)
		}
		resp, err := evaluate(ctx, s.eval, model, part, label, true)
		if err != nil {
			return nil, err
		}
		if int(resp.GetOutputWidth()) != width || len(resp.GetOutputs()) != (hi-lo)*width {
			return nil, fmt.Errorf("eval answered %d outputs of width %d for %d rows of width %d", len(resp.GetOutputs()), resp.GetOutputWidth(), hi-lo, width)
		}
		for i := lo; i < hi; i++ {
			out.SetRow(i, resp.GetOutputs()[(i-lo)*width:(i-lo+1)*width])
		}
	}
	return out, nil
}

// Predict asks eval to predict raw rows with a model and its transform.
func (s *Clients) Predict(ctx context.Context, model []byte, tr *datav1.FittedTransform, rows *datav1.RawRows) (*evalv1.PredictResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, s.stepTimeout)
	defer cancel()
	resp, err := s.predict(ctx, model, tr, rows)
	return resp, fault.FromStage(err)
}

func (s *Clients) predict(ctx context.Context, model []byte, tr *datav1.FittedTransform, rows *datav1.RawRows) (*evalv1.PredictResponse, error) {
	stream, err := s.eval.Predict(ctx)
	if err != nil {
		return nil, err
	}
	for off := 0; off < len(model); off += ModelPartBytes {
		end := min(off+ModelPartBytes, len(model))
		if err := stream.Send(&evalv1.PredictRequest{Part: &evalv1.PredictRequest_ModelPart{ModelPart: model[off:end]}}); err != nil {
			return nil, RecvErr(stream, err)
		}
	}
	if err := stream.Send(&evalv1.PredictRequest{Part: &evalv1.PredictRequest_Transform{Transform: tr}}); err != nil {
		return nil, RecvErr(stream, err)
	}
	if err := stream.Send(&evalv1.PredictRequest{Part: &evalv1.PredictRequest_Rows{Rows: rows}}); err != nil {
		return nil, RecvErr(stream, err)
	}
	return stream.CloseAndRecv()
}
