package main

import (
	"fmt"
	"math"
)

// Targets of issue #3, checked on every run.
const (
	// targetFitRatio is the largest alur/scikit-learn fit-time ratio
	// that passes.
	targetFitRatio = 1.0
	// targetPredictRatio is the largest alur/scikit-learn predict-time
	// ratio that passes, for the algorithms in predictTargeted.
	targetPredictRatio = 1.0
	// targetAccDiffPoints is the smallest accuracy difference (alur −
	// scikit-learn, in percentage points) that passes.
	targetAccDiffPoints = -0.5
	// targetMemRatio is the largest ratio of the train service's peak RSS
	// to the training table's float64 size that passes.
	targetMemRatio = 3.0
)

// predictTargeted are the algorithms whose predict time has a target:
// those where prediction is real work (a forest of deep trees, a
// neighbour search), not a matrix product.
var predictTargeted = map[string]bool{"random_forest": true, "knn": true}

// Results is everything one run measured; it is also the --json output.
type Results struct {
	Machine Machine `json:"machine"`
	Seed    uint64  `json:"seed"`
	Repeat  int     `json:"repeat"`
	Data    Data    `json:"data"`
	// Load is CSV parsing: alur's csvio.Read against pandas.read_csv.
	Load Load `json:"load"`
	// Prepare is imputation and scaling fitted on train, applied to both.
	Prepare Prepare `json:"prepare"`
	// Alur holds the in-process timings per algorithm, in --algorithms
	// order.
	Alur []AlurRun `json:"alur"`
	// Sklearn is the scikit-learn side.
	Sklearn Sklearn `json:"sklearn"`
	// Comparison pairs every alur algorithm with its scikit-learn
	// counterparts (two for random_forest: n_jobs=1 and n_jobs=-1).
	Comparison []Comparison `json:"comparison"`
	// Services are the gRPC timings, nil when not measured.
	Services *Services `json:"services,omitempty"`
	// Memory is the train service's peak memory per algorithm.
	Memory []Memory `json:"memory,omitempty"`
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

// Load compares CSV parsing speed.
type Load struct {
	AlurSeconds   float64 `json:"alur_seconds"`
	AlurMBps      float64 `json:"alur_mb_per_s"`
	PandasSeconds float64 `json:"pandas_seconds,omitempty"`
	PandasMBps    float64 `json:"pandas_mb_per_s,omitempty"`
	// Ratio is alur MB/s over pandas MB/s: above 1 alur parses faster.
	Ratio float64 `json:"ratio,omitempty"`
}

// Prepare compares the preparation (fit on train, apply to train and test).
type Prepare struct {
	AlurSeconds    float64 `json:"alur_seconds"`
	SklearnSeconds float64 `json:"sklearn_seconds,omitempty"`
}

// AlurRun is one algorithm timed in process.
type AlurRun struct {
	Name string `json:"name"`
	// Params are the hyperparameters set (the rest take alur's defaults).
	Params map[string]float64 `json:"params,omitempty"`
	// Skipped says why the algorithm was not run; the timings are then 0.
	Skipped        string  `json:"skipped,omitempty"`
	FitSeconds     float64 `json:"fit_seconds"`
	PredictSeconds float64 `json:"predict_seconds"`
	Accuracy       float64 `json:"accuracy"`
}

// Sklearn is the scikit-learn side of the run.
type Sklearn struct {
	// Available is true when the script ran with scikit-learn importable.
	Available bool `json:"available"`
	// Reason says why it did not run, when it did not.
	Reason   string            `json:"reason,omitempty"`
	Versions map[string]string `json:"versions,omitempty"`
	CPUs     int               `json:"cpus,omitempty"`
	Runs     []SklearnRun      `json:"runs,omitempty"`
}

// SklearnRun is one scikit-learn model timed.
type SklearnRun struct {
	Name           string  `json:"name"`
	Variant        string  `json:"variant,omitempty"`
	FitSeconds     float64 `json:"fit_seconds"`
	PredictSeconds float64 `json:"predict_seconds"`
	Accuracy       float64 `json:"accuracy"`
}

// Comparison is one row of the side-by-side table. Ratios are alur over
// scikit-learn, so below 1 alur is faster, and 0 when undefined; the Pass
// fields are nil where the target does not apply.
type Comparison struct {
	Name           string  `json:"name"`
	Variant        string  `json:"sklearn_variant,omitempty"`
	AlurFit        float64 `json:"alur_fit_seconds"`
	SklearnFit     float64 `json:"sklearn_fit_seconds"`
	FitRatio       float64 `json:"fit_ratio"`
	FitPass        *bool   `json:"fit_pass,omitempty"`
	AlurPredict    float64 `json:"alur_predict_seconds"`
	SklearnPredict float64 `json:"sklearn_predict_seconds"`
	PredictRatio   float64 `json:"predict_ratio"`
	PredictPass    *bool   `json:"predict_pass,omitempty"`
	AlurAcc        float64 `json:"alur_accuracy"`
	SklearnAcc     float64 `json:"sklearn_accuracy"`
	AccDiffPoints  float64 `json:"accuracy_diff_points"`
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

// ServiceRun is one algorithm trained and evaluated through the services.
type ServiceRun struct {
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

// Memory is the train service's peak memory for one algorithm.
type Memory struct {
	Algorithm string `json:"algorithm"`
	// TableBytes is train rows × features × 8, the training matrix as
	// float64.
	TableBytes int64 `json:"table_bytes"`
	// IdleBytes is the process's peak RSS before the table was sent.
	IdleBytes int64 `json:"idle_peak_rss_bytes"`
	// PeakBytes is VmHWM after training.
	PeakBytes int64   `json:"peak_rss_bytes"`
	Ratio     float64 `json:"ratio"`
	Pass      bool    `json:"pass"`
	Error     string  `json:"error,omitempty"`
}

func (r *Results) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// compare fills Comparison and the load ratio from the two sides.
func (r *Results) compare() {
	if r.Load.PandasMBps > 0 {
		r.Load.Ratio = r.Load.AlurMBps / r.Load.PandasMBps
	}
	r.Comparison = nil
	for _, a := range r.Alur {
		if a.Skipped != "" {
			continue
		}
		for _, s := range r.Sklearn.Runs {
			if s.Name != a.Name {
				continue
			}
			c := Comparison{
				Name: a.Name, Variant: s.Variant,
				AlurFit: a.FitSeconds, SklearnFit: s.FitSeconds, FitRatio: ratio(a.FitSeconds, s.FitSeconds),
				AlurPredict: a.PredictSeconds, SklearnPredict: s.PredictSeconds, PredictRatio: ratio(a.PredictSeconds, s.PredictSeconds),
				AlurAcc: a.Accuracy, SklearnAcc: s.Accuracy, AccDiffPoints: 100 * (a.Accuracy - s.Accuracy),
			}
			if c.FitRatio > 0 {
				c.FitPass = pass(c.FitRatio <= targetFitRatio)
			}
			if predictTargeted[a.Name] && c.PredictRatio > 0 {
				c.PredictPass = pass(c.PredictRatio <= targetPredictRatio)
			}
			// Compare in rounded hundredths of a point, so that a
			// difference printed as -0.50 is not a MISS through float
			// rounding.
			c.AccPass = pass(math.Round(c.AccDiffPoints*100) >= targetAccDiffPoints*100)
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
