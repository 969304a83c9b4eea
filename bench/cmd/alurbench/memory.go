package main

import (
	"context"
	"fmt"
	"os"

	"github.com/alur-ml/alur/bench/internal/process"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
)

// runMemory measures the real train binary's peak resident memory for
// every --mem-algorithms case: a fresh process per algorithm (peak
// RSS never goes down), sent the prepared train table over gRPC like any
// client would, with VmHWM read from /proc after the model came back.
func runMemory(ctx context.Context, d *benchData, o options, res *Results, lg *logger) {
	if len(o.memCases) == 0 {
		return
	}
	if o.trainBin == "" {
		res.note("train-service memory not measured: no --train-bin (scripts/bench.sh builds one)")
		return
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		res.note("train-service memory not measured: no /proc (the measurement needs Linux)")
		return
	}
	trainT, _ := d.preparedTables()
	rows, cols := d.xTrain.Dims()
	tableBytes := int64(rows) * int64(cols) * 8
	for _, bc := range o.memCases {
		if ctx.Err() != nil {
			return
		}
		m, why := memoryOf(ctx, bc, d, trainT, tableBytes, o, lg)
		if why != "" {
			res.note("train-service memory of %s not measured: %s", bc.Key, why)
			continue
		}
		res.Memory = append(res.Memory, m)
	}
}

// memoryOf trains case bc on t in a fresh train process and returns its
// peak memory and server-side fit time, or why it could not run.
func memoryOf(ctx context.Context, bc *benchCase, d *benchData, t *table.Table, tableBytes int64, o options, lg *logger) (Memory, string) {
	spec, why := lookupClassifier(bc.Algorithm)
	if spec == nil {
		return Memory{}, why
	}
	params, _ := paramsFor(bc, spec)
	lg.logf("memory: %s in a separate train process (%d rows)", bc.Key, t.NumRows())
	m := Memory{Case: bc.Key, Algorithm: bc.Algorithm, TableBytes: tableBytes}
	idle, peak, fit, err := measureTrainProcess(ctx, o.trainBin, &trainv1.TrainConfig{
		Algorithm: bc.Algorithm, Params: params, Label: d.transform.GetLabel(),
		Task: datav1.Task_TASK_CLASSIFICATION, Seed: int64(o.seed),
	}, t)
	if err != nil {
		m.Error = err.Error()
		lg.logf("memory: %s: %v", bc.Key, err)
	} else {
		m.IdleBytes, m.PeakBytes, m.FitSeconds = idle, peak, fit
		m.Ratio = float64(peak) / float64(tableBytes)
		m.Pass = m.Ratio <= targetMemRatio
	}
	return m, ""
}

// measureTrainProcess starts the train binary on a free loopback port,
// trains one model on t through it and returns the process's peak RSS
// before the call and after it, with the fit time the service reports.
// The process is stopped before returning.
func measureTrainProcess(ctx context.Context, bin string, cfg *trainv1.TrainConfig, t *table.Table) (idle, peak int64, fit float64, err error) {
	proc, err := process.Start(ctx, bin)
	if err != nil {
		return 0, 0, 0, err
	}
	defer proc.Stop()
	pid := proc.PID()
	if idle, _, err = process.ReadVmHWM(pid); err != nil {
		return 0, 0, 0, err
	}
	conn, err := serverkit.Dial(proc.Addr)
	if err != nil {
		return 0, 0, 0, err
	}
	defer conn.Close()
	_, result, err := trainRPC(ctx, trainv1.NewTrainServiceClient(conn), cfg, t)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("train: %w%s", err, proc.LogTail())
	}
	if peak, _, err = process.ReadVmHWM(pid); err != nil {
		return 0, 0, 0, err
	}
	return idle, peak, result.GetFitSeconds(), nil
}
