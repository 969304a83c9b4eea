package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/stack"
	"github.com/alur-ml/alur/services/orchestrator/stageclient"
)

// rpcTimeout bounds every benchmark RPC; a 200000-row random forest takes
// well under a minute, so this only stops a hung call.
const rpcTimeout = 30 * time.Minute

// stages are the four stage services served in this process, each on its
// own loopback listener, as `alur dev` runs them (package stack): the
// benchmark reaches them over real TCP connections.
type stages struct {
	*stack.Stages
	conns []*grpc.ClientConn

	ingest ingestv1.IngestServiceClient
	prep   prepv1.PrepServiceClient
	train  trainv1.TrainServiceClient
	eval   evalv1.EvalServiceClient
}

// startStages serves ingest (with dataRoot as its data root), prep, train
// and eval on 127.0.0.1 ports chosen by the system and dials each.
func startStages(dataRoot string) (*stages, error) {
	served, err := stack.StartStages(context.Background(), stack.StagesConfig{DataRoot: dataRoot})
	if err != nil {
		return nil, err
	}
	st := &stages{Stages: served}
	for _, addr := range []string{served.IngestAddr, served.PrepAddr, served.TrainAddr, served.EvalAddr} {
		conn, err := serverkit.Dial(addr)
		if err != nil {
			st.stop()
			return nil, err
		}
		st.conns = append(st.conns, conn)
	}
	st.ingest = ingestv1.NewIngestServiceClient(st.conns[0])
	st.prep = prepv1.NewPrepServiceClient(st.conns[1])
	st.train = trainv1.NewTrainServiceClient(st.conns[2])
	st.eval = evalv1.NewEvalServiceClient(st.conns[3])
	return st, nil
}

// stop closes the connections and shuts the servers down gracefully.
func (st *stages) stop() {
	for _, c := range st.conns {
		_ = c.Close()
	}
	_ = st.Stages.Stop()
}

// runServices times the workflow's RPCs: IngestService.Read of the CSV,
// PrepService.Prepare of the table, then for every algorithm the Train RPC
// on the same prepared train rows as in process and the Evaluate RPC on the
// same test rows. Each is timed once, end to end, as a client sees it.
func runServices(ctx context.Context, csvPath string, d *benchData, o options, res *Results, lg *logger) error {
	st, err := startStages(filepath.Dir(csvPath))
	if err != nil {
		return err
	}
	defer st.stop()
	svc := &Services{}
	res.Services = svc

	lg.logf("services: IngestService.Read of the CSV")
	freeMemory()
	start := time.Now()
	raw, err := ingestRead(ctx, st.ingest, filepath.Base(csvPath))
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	svc.IngestSeconds = time.Since(start).Seconds()

	lg.logf("services: PrepService.Prepare of %d rows", raw.NumRows())
	freeMemory()
	start = time.Now()
	err = prepareRPC(ctx, st.prep, raw, &prepv1.PrepareOptions{
		Label:         o.label,
		Task:          datav1.Task_TASK_CLASSIFICATION,
		SplitColumn:   o.splitColumn,
		Seed:          int64(o.seed),
		NumericImpute: prepv1.NumericImpute_NUMERIC_IMPUTE_MEDIAN,
	})
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	svc.PrepareSeconds = time.Since(start).Seconds()

	trainT, testT := d.preparedTables()
	label := d.transform.GetLabel()
	for _, a := range res.Alur {
		if a.Skipped != "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		run := ServiceRun{Name: a.Name}
		lg.logf("services: %s Train RPC (%d rows) and Evaluate RPC (%d rows)", a.Name, trainT.NumRows(), testT.NumRows())
		freeMemory()
		start := time.Now()
		model, result, err := trainRPC(ctx, st.train, &trainv1.TrainConfig{
			Algorithm: a.Name, Params: a.Params, Label: label,
			Task: datav1.Task_TASK_CLASSIFICATION, Seed: int64(o.seed),
		}, trainT)
		run.TrainSeconds = time.Since(start).Seconds()
		if err != nil {
			run.Error = "train: " + err.Error()
			svc.Algorithms = append(svc.Algorithms, run)
			continue
		}
		run.ServerFitSeconds = result.GetFitSeconds()
		run.ModelBytes = int64(len(model))
		start = time.Now()
		m, err := evaluateRPC(ctx, st.eval, model, testT, label)
		run.EvaluateSeconds = time.Since(start).Seconds()
		if err != nil {
			run.Error = "evaluate: " + err.Error()
		} else {
			run.Accuracy = m.GetClassification().GetAccuracy()
		}
		svc.Algorithms = append(svc.Algorithms, run)
	}
	return nil
}

// ingestRead reads a file under the ingest service's data root.
func ingestRead(ctx context.Context, c ingestv1.IngestServiceClient, path string) (*table.Table, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	stream, err := c.Read(ctx, &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Path{Path: path}})
	if err != nil {
		return nil, err
	}
	var col tablepb.Collector
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if s := m.GetSchema(); s != nil {
			err = col.Schema(s)
		} else if b := m.GetBatch(); b != nil {
			err = col.Batch(b)
		}
		if err != nil {
			return nil, fmt.Errorf("bad table stream: %w", err)
		}
	}
	return col.Table()
}

// prepareRPC streams a raw table to PrepService.Prepare and receives the
// transform and the prepared splits, with the orchestrator's client.
func prepareRPC(ctx context.Context, c prepv1.PrepServiceClient, t *table.Table, opts *prepv1.PrepareOptions) error {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	_, err := stageclient.Prepare(ctx, c, t, opts)
	return err
}

// trainRPC streams the config and a prepared table to TrainService.Train,
// as the orchestrator does, and returns the serialized model and the
// result.
func trainRPC(ctx context.Context, c trainv1.TrainServiceClient, cfg *trainv1.TrainConfig, t *table.Table) ([]byte, *trainv1.TrainResult, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	return stageclient.Train(ctx, c, cfg, t, nil)
}

// evaluateRPC streams a serialized model and a prepared table with labels
// to EvalService.Evaluate, as the orchestrator does, and returns the
// metrics.
func evaluateRPC(ctx context.Context, c evalv1.EvalServiceClient, model []byte, t *table.Table, label string) (*datav1.Metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	return stageclient.Evaluate(ctx, c, model, t, label)
}
