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
// every --mem-algorithms algorithm: a fresh process per algorithm (peak
// RSS never goes down), sent the prepared train table over gRPC like any
// client would, with VmHWM read from /proc after the model came back.
func runMemory(ctx context.Context, d *benchData, o options, res *Results, lg *logger) {
	if len(o.memAlgorithms) == 0 {
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
	for _, name := range o.memAlgorithms {
		if ctx.Err() != nil {
			return
		}
		spec, why := lookupClassifier(name)
		if spec == nil {
			res.note("train-service memory of %s not measured: %s", name, why)
			continue
		}
		params, _ := paramsFor(spec)
		lg.logf("memory: %s in a separate train process (%d rows × %d features)", name, rows, cols)
		m := Memory{Algorithm: name, TableBytes: tableBytes}
		idle, peak, err := measureTrainProcess(ctx, o.trainBin, &trainv1.TrainConfig{
			Algorithm: name, Params: params, Label: d.transform.GetLabel(),
			Task: datav1.Task_TASK_CLASSIFICATION, Seed: int64(o.seed),
		}, trainT)
		if err != nil {
			m.Error = err.Error()
			lg.logf("memory: %s: %v", name, err)
		} else {
			m.IdleBytes, m.PeakBytes = idle, peak
			m.Ratio = float64(peak) / float64(tableBytes)
			m.Pass = m.Ratio <= targetMemRatio
		}
		res.Memory = append(res.Memory, m)
	}
}

// measureTrainProcess starts the train binary on a free loopback port,
// trains one model on t through it and returns the process's peak RSS
// before the call and after it. The process is stopped before returning.
func measureTrainProcess(ctx context.Context, bin string, cfg *trainv1.TrainConfig, t *table.Table) (idle, peak int64, err error) {
	proc, err := process.Start(ctx, bin)
	if err != nil {
		return 0, 0, err
	}
	defer proc.Stop()
	pid := proc.PID()
	if idle, _, err = process.ReadVmHWM(pid); err != nil {
		return 0, 0, err
	}
	conn, err := serverkit.Dial(proc.Addr)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	if _, _, err := trainRPC(ctx, trainv1.NewTrainServiceClient(conn), cfg, t); err != nil {
		return 0, 0, fmt.Errorf("train: %w%s", err, proc.LogTail())
	}
	if peak, _, err = process.ReadVmHWM(pid); err != nil {
		return 0, 0, err
	}
	return idle, peak, nil
}
