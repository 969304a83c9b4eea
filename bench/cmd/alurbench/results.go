package main

import (
	"fmt"
	"math"
)

// targetMemRatio is the largest ratio of the train service's peak RSS to
// the training table's float64 size that passes. The time and accuracy
// targets belong to each case (cases.go).
const targetMemRatio = 3.0

// Results is everything one run measured; it is also the --json output.
type Results struct {
	Machine Machine `json:"machine"`
	Seed    uint64  `json:"seed"`
	Repeat  int     `json:"repeat"`
	// OMPPassive says the peers ran with OMP_WAIT_POLICY=PASSIVE.
	OMPPassive bool `json:"omp_passive,omitempty"`
	// RepeatSmall is the number of runs of a figure whose first run took
	// under 2 s.
	RepeatSmall int `json:"repeat_small"`
	// Threads are the thread counts every comparison ran at, both sides
	// alike.
	Threads []int `json:"threads"`
	Data    Data  `json:"data"`
	// Load is CSV parsing: alur's csvio.Read against pandas.read_csv.
	Load Load `json:"load"`
	// Prepare is imputation and scaling fitted on train, applied to both.
	Prepare Prepare `json:"prepare"`
	// Alur holds the in-process timings per case and thread count.
	Alur []AlurRun `json:"alur"`
	// Sklearn is the peer side (scikit-learn and XGBoost).
	Sklearn Sklearn `json:"sklearn"`
	// Comparison pairs every alur run with its peer run at the same
	// thread count.
	Comparison []Comparison `json:"comparison"`
	// Services are the gRPC timings, nil when not measured.
	Services *Services `json:"services,omitempty"`
	// Memory is the train service's peak memory per case.
	Memory []Memory `json:"memory,omitempty"`
	// Scale is the scale curve, nil when not measured.
	Scale *Scale `json:"scale,omitempty"`
	// Notes explain anything skipped or unusual.
	Notes []string `json:"notes,omitempty"`
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUModel   string `json:"cpu_model,omitempty"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Date       string `json:"date"`
	// LoadStart and LoadEnd are the 1-minute load averages when the run
	// started and ended: above the CPU count, other work competed for
	// the processors and every timing is inflated.
	LoadStart string `json:"load_average_start,omitempty"`
	LoadEnd   string `json:"load_average_end,omitempty"`
}

// Data describes the benchmarked file and its split.
type Data struct {
	// Source is "generated" or the --csv path given.
	Source string `json:"source"`
	// Bytes is the CSV file's size.
	Bytes int64 `json:"bytes"`
	// Rows and Columns are the table's shape as read.
	Rows    int `json:"rows"`
	Columns int `json:"columns"`
	// TrainRows and TestRows are the labelled rows of each split.
	TrainRows int `json:"train_rows"`
	TestRows  int `json:"test_rows"`
	// Features is the width of the prepared feature matrix.
	Features int `json:"features"`
	// Classes are the class names.
	Classes []string `json:"classes"`
	// GenerateSeconds is the time the generator took (0 for --csv).
	GenerateSeconds float64 `json:"generate_seconds,omitempty"`
}

// Load compares CSV parsing speed. pandas.read_csv parses on one core,
// so the verdict compares it with alur on one core; alur on every core is
// reported apart.
type Load struct {
	// Alur holds csvio.Read per thread count.
	Alur          []LoadRun `json:"alur"`
	PandasSeconds float64   `json:"pandas_seconds,omitempty"`
	PandasMBps    float64   `json:"pandas_mb_per_s,omitempty"`
	// Ratio is alur's one-core MB/s over pandas' MB/s: above 1 alur parses
	// faster.
	Ratio float64 `json:"ratio,omitempty"`
}

// LoadRun is csvio.Read of the file with Threads cores.
type LoadRun struct {
	Threads int     `json:"threads"`
	Seconds float64 `json:"seconds"`
	MBps    float64 `json:"mb_per_s"`
}

// Prepare compares the preparation (fit on train, apply to train and test).
type Prepare struct {
	AlurSeconds    float64 `json:"alur_seconds"`
	SklearnSeconds float64 `json:"sklearn_seconds,omitempty"`
}

// AlurRun is one case timed in process at one thread count.
type AlurRun struct {
	// Case is the benchCase key; Name the algorithm.
	Case    string `json:"case"`
	Name    string `json:"name"`
	Threads int    `json:"threads"`
	// Params are the hyperparameters set (the rest take alur's defaults).
	Params map[string]float64 `json:"params,omitempty"`
	// Skipped says why the case was not run; the timings are then 0.
	Skipped        string  `json:"skipped,omitempty"`
	FitSeconds     float64 `json:"fit_seconds"`
	PredictSeconds float64 `json:"predict_seconds"`
	Accuracy       float64 `json:"accuracy"`
}

// Sklearn is the peer side of the run (scikit-learn and XGBoost).
type Sklearn struct {
	// Available is true when the script ran with scikit-learn importable.
	Available bool `json:"available"`
	// Reason says why it did not run, when it did not.
	Reason   string            `json:"reason,omitempty"`
	Versions map[string]string `json:"versions,omitempty"`
	CPUs     int               `json:"cpus,omitempty"`
	Runs     []SklearnRun      `json:"runs,omitempty"`
}

// SklearnRun is one peer model timed.
type SklearnRun struct {
	// Name is the script's model key; Peer "sklearn" or "xgboost".
	Name           string  `json:"name"`
	Peer           string  `json:"peer"`
	Threads        int     `json:"threads"`
	FitSeconds     float64 `json:"fit_seconds"`
	PredictSeconds float64 `json:"predict_seconds"`
	Accuracy       float64 `json:"accuracy"`
	// PeakBefore and PeakAfter are the script's VmHWM before and after the
	// fit (scale curve only).
	PeakBefore int64 `json:"peak_rss_before,omitempty"`
	PeakAfter  int64 `json:"peak_rss_after,omitempty"`
}

// Comparison is one row of the side-by-side table: a case at one thread
// count on both sides. Ratios are alur over the peer, so below 1 alur is
// faster, and 0 when undefined; the Pass fields are nil where the target
// does not apply.
type Comparison struct {
	Case           string  `json:"case"`
	Label          string  `json:"label"`
	Peer           string  `json:"peer"`
	PeerModel      string  `json:"peer_model"`
	Threads        int     `json:"threads"`
	AlurFit        float64 `json:"alur_fit_seconds"`
	PeerFit        float64 `json:"peer_fit_seconds"`
	FitRatio       float64 `json:"fit_ratio"`
	FitTarget      float64 `json:"fit_target,omitempty"`
	FitPass        *bool   `json:"fit_pass,omitempty"`
	AlurPredict    float64 `json:"alur_predict_seconds"`
	PeerPredict    float64 `json:"peer_predict_seconds"`
	PredictRatio   float64 `json:"predict_ratio"`
	PredictTarget  float64 `json:"predict_target,omitempty"`
	PredictPass    *bool   `json:"predict_pass,omitempty"`
	AlurAcc        float64 `json:"alur_accuracy"`
	PeerAcc        float64 `json:"peer_accuracy"`
	AccDiffPoints  float64 `json:"accuracy_diff_points"`
	AccTargetPoint float64 `json:"accuracy_target_points"`
	AccPass        *bool   `json:"accuracy_pass,omitempty"`
}

// Services are the timings through the gRPC stage services on loopback.
type Services struct {
	// IngestSeconds is IngestService.Read of the CSV file into a table.
	IngestSeconds float64 `json:"ingest_seconds"`
	// PrepareSeconds is PrepService.Prepare of that table (split, fit,
	// apply, stream the three prepared splits back).
	PrepareSeconds float64      `json:"prepare_seconds"`
	Algorithms     []ServiceRun `json:"algorithms"`
}

// ServiceRun is one case trained and evaluated through the services.
type ServiceRun struct {
	Case string `json:"case"`
	Name string `json:"name"`
	// TrainSeconds is the whole Train RPC as the client sees it: streaming
	// the prepared train table, fitting, receiving the model.
	TrainSeconds float64 `json:"train_seconds"`
	// ServerFitSeconds is the fit alone, as TrainResult reports it.
	ServerFitSeconds float64 `json:"server_fit_seconds"`
	ModelBytes       int64   `json:"model_bytes"`
	// EvaluateSeconds is the whole Evaluate RPC: streaming the model and
	// the prepared test table, predicting, scoring.
	EvaluateSeconds float64 `json:"evaluate_seconds"`
	Accuracy        float64 `json:"accuracy"`
	Error           string  `json:"error,omitempty"`
}

// Memory is the train service's peak memory for one case.
type Memory struct {
	Case      string `json:"case"`
	Algorithm string `json:"algorithm"`
	// TableBytes is train rows × features × 8, the training matrix as
	// float64.
	TableBytes int64 `json:"table_bytes"`
	// IdleBytes is the process's peak RSS before the table was sent.
	IdleBytes int64 `json:"idle_peak_rss_bytes"`
	// PeakBytes is VmHWM after training.
	PeakBytes int64 `json:"peak_rss_bytes"`
	// FitSeconds is the server's fit time, as TrainResult reports it.
	FitSeconds float64 `json:"fit_seconds"`
	Ratio      float64 `json:"ratio"`
	Pass       bool    `json:"pass"`
	Error      string  `json:"error,omitempty"`
}

func (r *Results) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// compare fills Comparison and the load ratio from the two sides: every
// alur run is paired with its case's peer model run at the same number of
// threads, and with nothing else.
func (r *Results) compare() {
	r.Load.Ratio = 0
	for _, l := range r.Load.Alur {
		if l.Threads == 1 && r.Load.PandasMBps > 0 {
			r.Load.Ratio = l.MBps / r.Load.PandasMBps
		}
	}
	r.Comparison = nil
	for _, a := range r.Alur {
		if a.Skipped != "" {
			continue
		}
		bc, ok := caseByKey(a.Case)
		if !ok {
			continue
		}
		for _, s := range r.Sklearn.Runs {
			if s.Name != bc.PeerModel || s.Threads != a.Threads {
				continue
			}
			c := Comparison{
				Case: a.Case, Label: bc.label(), Peer: s.Peer, PeerModel: s.Name, Threads: a.Threads,
				AlurFit: a.FitSeconds, PeerFit: s.FitSeconds, FitRatio: ratio(a.FitSeconds, s.FitSeconds),
				AlurPredict: a.PredictSeconds, PeerPredict: s.PredictSeconds, PredictRatio: ratio(a.PredictSeconds, s.PredictSeconds),
				AlurAcc: a.Accuracy, PeerAcc: s.Accuracy, AccDiffPoints: 100 * (a.Accuracy - s.Accuracy),
				FitTarget: bc.FitMax, PredictTarget: bc.PredictMax, AccTargetPoint: bc.AccMin,
			}
			if bc.FitMax > 0 && c.FitRatio > 0 {
				c.FitPass = pass(c.FitRatio <= bc.FitMax)
			}
			if bc.PredictMax > 0 && c.PredictRatio > 0 {
				c.PredictPass = pass(c.PredictRatio <= bc.PredictMax)
			}
			// Compare in rounded hundredths of a point, so that a
			// difference printed as -0.50 is not a MISS through float
			// rounding.
			c.AccPass = pass(math.Round(c.AccDiffPoints*100) >= math.Round(bc.AccMin*100))
			r.Comparison = append(r.Comparison, c)
		}
	}
}

// ratio is a/b, or 0 (undefined; JSON has no NaN) when b is not
// positive.
func ratio(a, b float64) float64 {
	if !(b > 0) {
		return 0
	}
	return a / b
}

func pass(ok bool) *bool { return &ok }
