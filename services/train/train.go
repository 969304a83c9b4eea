// Package train is the TrainService: a thin gRPC shell that receives a
// prepared table as a stream, fits one of the algorithms of the ml/algo
// registry on it and streams the serialized alur.data.v1.Model back in
// parts. The learning itself lives in ml/algo; this package validates the
// request early, maps library errors to precise status codes and keeps every
// message on the wire small.
package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin" // registers the algorithms
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
)

const (
	// DefaultMaxRows is the row limit used when Config.MaxRows is 0.
	DefaultMaxRows = 10_000_000
	// DefaultMaxColumns is the column limit used when Config.MaxColumns is 0.
	DefaultMaxColumns = 10_000
	// ModelPartBytes is the largest model_part sent. It is half the 1 MiB the
	// contract allows, so a response message stays well under gRPC's limits
	// whatever framing overhead is added.
	ModelPartBytes = 512 << 10
	// progressInterval is the smallest gap between two progress messages,
	// apart from the first and the last: about ten a second keep a client's
	// progress bar alive without flooding the stream.
	progressInterval = 100 * time.Millisecond
)

// Config holds the server's limits.
type Config struct {
	// MaxRows caps the rows of a training table; 0 means DefaultMaxRows.
	MaxRows int64
	// MaxColumns caps the columns of a training table; 0 means
	// DefaultMaxColumns.
	MaxColumns int
	// ServerID names this replica in TrainResult.server; empty means
	// "host/pid".
	ServerID string
}

// Server implements trainv1.TrainServiceServer. It holds no state besides
// its limits, so one Server serves any number of concurrent streams.
type Server struct {
	trainv1.UnimplementedTrainServiceServer
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
	if cfg.ServerID == "" {
		host, _ := os.Hostname()
		cfg.ServerID = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	return &Server{cfg: cfg}
}

// ListAlgorithms describes every registered algorithm with its
// hyperparameter schema (type, default, bounds, the tasks it applies to),
// so clients can build forms and validate before calling Train; the
// orchestrator learns the algorithms from it. Only algorithms that fit a
// task are listed: one registered for prediction alone (the ensemble a
// run builds from trained models, when a binary links it beside train)
// has no tasks and nothing to train.
func (s *Server) ListAlgorithms(context.Context, *trainv1.ListAlgorithmsRequest) (*trainv1.ListAlgorithmsResponse, error) {
	var fit []*algo.Spec
	for _, a := range algo.All() {
		if len(a.Tasks) > 0 {
			fit = append(fit, a)
		}
	}
	c, err := algo.NewCatalog(fit...)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "list algorithms: %v", err)
	}
	return c.Proto(), nil
}

// validConfig is a TrainConfig that passed the early checks.
type validConfig struct {
	spec   *algo.Spec
	params map[string]float64
	label  string
	task   datav1.Task
	seed   int64
}

// knownAlgorithms lists the registered names for error messages.
func knownAlgorithms() string {
	specs := algo.All()
	names := make([]string, len(specs))
	for i, sp := range specs {
		names[i] = sp.Name
	}
	return strings.Join(names, ", ")
}

// taskNames lists tasks in readable form for error messages.
func taskNames(tasks []datav1.Task) string {
	names := make([]string, len(tasks))
	for i, t := range tasks {
		names[i] = t.String()
	}
	return strings.Join(names, ", ")
}

// validateConfig checks everything that can be checked before the table
// arrives, so a bad request fails before megabytes are streamed: the
// algorithm, the task, the hyperparameters and the label name. Errors are
// InvalidArgument statuses naming the field.
func validateConfig(c *trainv1.TrainConfig) (*validConfig, error) {
	if c.GetAlgorithm() == "" {
		return nil, serverkit.InvalidArgument("config.algorithm", "required (known: "+knownAlgorithms()+")")
	}
	spec, ok := algo.Lookup(c.GetAlgorithm())
	if !ok {
		return nil, serverkit.InvalidArgument("config.algorithm",
			fmt.Sprintf("unknown algorithm %q (known: %s)", c.GetAlgorithm(), knownAlgorithms()))
	}
	switch c.GetTask() {
	case datav1.Task_TASK_UNSPECIFIED:
	case datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION:
		if !spec.Supports(c.GetTask()) {
			return nil, serverkit.InvalidArgument("config.task",
				fmt.Sprintf("algorithm %s does not support %v (supports: %s)", spec.Name, c.GetTask(), taskNames(spec.Tasks)))
		}
	default:
		return nil, serverkit.InvalidArgument("config.task", fmt.Sprintf("unknown task %d", int32(c.GetTask())))
	}
	params, err := spec.ResolveParams(c.GetParams())
	if err != nil {
		var pe *algo.ParamError
		if errors.As(err, &pe) {
			return nil, serverkit.InvalidArgument(fmt.Sprintf("config.params[%q]", pe.Param), pe.Reason)
		}
		return nil, serverkit.InvalidArgument("config.params", err.Error())
	}
	if c.GetLabel() == "" {
		return nil, serverkit.InvalidArgument("config.label", "required: the name of the label column")
	}
	vc := &validConfig{spec: spec, params: params, label: c.GetLabel(), task: c.GetTask(), seed: c.GetSeed()}
	if err := checkBudget(vc); err != nil {
		return nil, err
	}
	return vc, nil
}

// checkSchema checks the prepared schema against the config as soon as it
// arrives: the label must be one of its columns and every other column a
// NUMERIC feature.
func checkSchema(schema *datav1.Schema, label string) error {
	found := false
	names := make([]string, 0, len(schema.GetFields()))
	for _, f := range schema.GetFields() {
		names = append(names, f.GetName())
		if f.GetName() == label {
			found = true
		}
	}
	if !found {
		return serverkit.InvalidArgument("config.label",
			fmt.Sprintf("no column %q in the schema (columns: %s)", label, strings.Join(names, ", ")))
	}
	if len(schema.GetFields()) < 2 {
		return serverkit.InvalidArgument("schema.fields", "no feature columns: the schema holds only the label")
	}
	for i, f := range schema.GetFields() {
		if f.GetName() == label {
			continue
		}
		if f.GetType() != datav1.ColumnType_COLUMN_TYPE_NUMERIC {
			return serverkit.InvalidArgument(fmt.Sprintf("schema.fields[%d].type", i),
				fmt.Sprintf("feature %q is %v; every column but the label must be NUMERIC (prepare the table first)", f.GetName(), f.GetType()))
		}
	}
	return nil
}

// tableError maps a tablepb error to a status: a *FieldError becomes
// InvalidArgument naming its field, a *LimitError ResourceExhausted naming
// the limit, anything else InvalidArgument on field.
func tableError(err error, field string) error {
	var fe *tablepb.FieldError
	if errors.As(err, &fe) {
		return serverkit.InvalidArgument(fe.Field, fe.Reason)
	}
	var le *tablepb.LimitError
	if errors.As(err, &le) {
		return serverkit.ResourceExhausted(le.Limit, fmt.Sprintf("the training table is too large: at most %d allowed", le.Max))
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

// receiveTable reads the schema and batches that follow the config until
// the client closes its side, into a receiver.
func (s *Server) receiveTable(stream grpc.BidiStreamingServer[trainv1.TrainRequest, trainv1.TrainResponse], label string) (*receiver, error) {
	r := &receiver{label: label, maxRows: s.cfg.MaxRows, maxColumns: s.cfg.MaxColumns, maxClasses: tablepb.DefaultMaxCategories}
	ctx := stream.Context()
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, recvError(ctx, err)
		}
		switch p := req.GetPart().(type) {
		case *trainv1.TrainRequest_Config:
			return nil, serverkit.InvalidArgument("config", "sent twice: the config must be the first message only")
		case *trainv1.TrainRequest_Schema:
			if err := r.schema(p.Schema); err != nil {
				return nil, tableError(err, "schema")
			}
			if err := checkSchema(p.Schema, label); err != nil {
				return nil, err
			}
		case *trainv1.TrainRequest_Batch:
			if err := r.batch(p.Batch); err != nil {
				return nil, tableError(err, "batch")
			}
		default:
			return nil, serverkit.InvalidArgument("part", "empty message: set config, schema or batch")
		}
	}
	return r, nil
}

// Train fits one model: config first, then the prepared schema and batches;
// it answers with progress, the model in parts of at most ModelPartBytes,
// and the result.
func (s *Server) Train(stream grpc.BidiStreamingServer[trainv1.TrainRequest, trainv1.TrainResponse]) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err == io.EOF {
		return serverkit.InvalidArgument("config", "required: the stream closed before the config")
	}
	if err != nil {
		return recvError(ctx, err)
	}
	cfgMsg := first.GetConfig()
	if cfgMsg == nil {
		return serverkit.InvalidArgument("config", "required: the first message must be the config")
	}
	vc, err := validateConfig(cfgMsg)
	if err != nil {
		return err
	}
	if err := stream.Send(progressMsg("loading", 0, 0, math.NaN(), "the training table")); err != nil {
		return err
	}

	r, err := s.receiveTable(stream, vc.label)
	if err != nil {
		return err
	}
	ds, err := r.dataset(vc)
	r = nil
	if err != nil {
		return err
	}
	rows := len(ds.Y)
	if err := checkRows(vc, rows); err != nil {
		return err
	}

	model, fitSeconds, err := fit(ctx, stream, vc, ds)
	if err != nil {
		return err
	}
	// The training data is not needed any more. Collecting it now lets
	// the serialization reuse its memory; the collector would otherwise
	// wait for the heap to grow past its goal first, raising the peak.
	ds = nil
	runtime.GC()

	w := &partWriter{send: func(part []byte) error {
		return stream.Send(&trainv1.TrainResponse{Part: &trainv1.TrainResponse_ModelPart{ModelPart: part}})
	}, hash: sha256.New()}
	if err := writeModel(w, model); err != nil {
		return err
	}
	return stream.Send(&trainv1.TrainResponse{Part: &trainv1.TrainResponse_Result{Result: &trainv1.TrainResult{
		Algorithm:   vc.spec.Name,
		ModelBytes:  w.total,
		ModelDigest: hex.EncodeToString(w.hash.Sum(nil)),
		TrainRows:   int64(rows),
		FitSeconds:  fitSeconds,
		Params:      model.GetParams(),
		Server:      s.cfg.ServerID,
	}}})
}

// progressBox hands progress reports from the fitting goroutines to the
// handler goroutine, which alone calls stream.Send. Reports are coalesced:
// only the newest one waits, so a fast algorithm is never slowed down by a
// slow client.
type progressBox struct {
	mu      sync.Mutex
	latest  *trainv1.TrainProgress
	pending bool
	notify  chan struct{}
}

func newProgressBox() *progressBox {
	return &progressBox{notify: make(chan struct{}, 1)}
}

// report is the algo.Progress callback; it is safe for concurrent use and
// never blocks.
func (b *progressBox) report(done, total int64, loss float64, msg string) {
	p := progressMsg("fitting", done, total, loss, msg).GetProgress()
	b.mu.Lock()
	b.latest = p
	b.pending = true
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// take returns the newest unsent report, or nil.
func (b *progressBox) take() *trainv1.TrainProgress {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.pending {
		return nil
	}
	b.pending = false
	return b.latest
}

// last returns the units and loss of the newest report, sent or not; zeros
// and NaN when the algorithm reported nothing.
func (b *progressBox) last() (done, total int64, loss float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.latest == nil {
		return 0, 0, math.NaN()
	}
	return b.latest.GetDone(), b.latest.GetTotal(), b.latest.GetLoss()
}

// progressMsg builds a progress response; a NaN loss (no loss) is sent as 0,
// the proto default for "none".
func progressMsg(stage string, done, total int64, loss float64, msg string) *trainv1.TrainResponse {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		loss = 0
	}
	return &trainv1.TrainResponse{Part: &trainv1.TrainResponse_Progress{Progress: &trainv1.TrainProgress{
		Stage: stage, Done: done, Total: total, Loss: loss, Message: msg,
	}}}
}

// panicError carries a panic recovered in the fitting goroutine, which the
// server's recovery interceptor cannot see because it runs outside the
// handler goroutine.
type panicError struct{ msg string }

func (e *panicError) Error() string { return e.msg }

type fitResult struct {
	model *datav1.Model
	err   error
}

// fit runs the algorithm in its own goroutine under a context that ends
// with the stream, forwarding its progress (the first report, then at most
// one per progressInterval, then the last) from the handler goroutine.
// When the client goes away the handler returns at once; the algorithm sees
// the cancelled context and stops on its own.
func fit(ctx context.Context, stream grpc.BidiStreamingServer[trainv1.TrainRequest, trainv1.TrainResponse], vc *validConfig, ds *algo.Dataset) (*datav1.Model, float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	box := newProgressBox()
	done := make(chan fitResult, 1)
	start := time.Now()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fitResult{err: &panicError{fmt.Sprintf("algorithm %s panicked: %v\n%s", vc.spec.Name, r, debug.Stack())}}
			}
		}()
		m, err := algo.Fit(ctx, vc.spec.Name, ds, vc.params, vc.seed, box.report)
		done <- fitResult{m, err}
	}()

	var (
		lastSent time.Time
		sentAny  bool
		timer    *time.Timer
		timerC   <-chan time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	send := func() error {
		p := box.take()
		if p == nil {
			return nil
		}
		sentAny = true
		lastSent = time.Now()
		return stream.Send(&trainv1.TrainResponse{Part: &trainv1.TrainResponse_Progress{Progress: p}})
	}
	for {
		select {
		case <-ctx.Done():
			return nil, 0, status.FromContextError(ctx.Err()).Err()
		case <-box.notify:
			if wait := progressInterval - time.Since(lastSent); sentAny && wait > 0 {
				if timerC == nil {
					timer = time.NewTimer(wait)
					timerC = timer.C
				}
				continue
			}
			if err := send(); err != nil {
				return nil, 0, err
			}
		case <-timerC:
			timerC = nil
			if err := send(); err != nil {
				return nil, 0, err
			}
		case r := <-done:
			secs := time.Since(start).Seconds()
			if r.err != nil {
				if ctx.Err() != nil {
					return nil, 0, status.FromContextError(ctx.Err()).Err()
				}
				var pe *panicError
				if errors.As(r.err, &pe) {
					slog.Error("train: algorithm panic", "algorithm", vc.spec.Name, "panic", pe.msg)
					return nil, 0, serverkit.Errorf(codes.Internal, "algorithm %s failed unexpectedly", vc.spec.Name)
				}
				return nil, 0, serverkit.Errorf(codes.FailedPrecondition, "training %s failed: %v", vc.spec.Name, r.err)
			}
			if r.model == nil {
				return nil, 0, serverkit.Errorf(codes.Internal, "algorithm %s returned no model", vc.spec.Name)
			}
			// The last report goes out even when it came within the interval.
			if err := send(); err != nil {
				return nil, 0, err
			}
			msg := fmt.Sprintf("fitted %s on %d rows in %.3gs", vc.spec.Name, len(ds.Y), secs)
			done, total, loss := box.last()
			if err := stream.Send(progressMsg("done", done, total, loss, msg)); err != nil {
				return nil, 0, err
			}
			return r.model, secs, nil
		}
	}
}
