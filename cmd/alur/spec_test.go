package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

const specYAML = `
# A full spec, as a user writes it.
name: iris-forest
source:
  bundled: iris
  csv: {delimiter: ",", categorical_columns: [species]}
label: species
task: TASK_CLASSIFICATION
prepare:
  validation_fraction: 0.25
  numeric_impute: NUMERIC_IMPUTE_MEDIAN
candidates:
  - algorithm: random_forest
    params: {n_trees: 50}
    grid:
      max_depth: {values: [2, 4, 8]}
  - algorithm: logistic_regression
objective: {metric: f1_macro, target: 0.95}
max_trials: 7
seed: 42
`

const specJSON = `{
  "name": "iris-forest",
  "source": {"bundled": "iris", "csv": {"delimiter": ",", "categoricalColumns": ["species"]}},
  "label": "species",
  "task": "TASK_CLASSIFICATION",
  "prepare": {"validationFraction": 0.25, "numericImpute": "NUMERIC_IMPUTE_MEDIAN"},
  "candidates": [
    {"algorithm": "random_forest", "params": {"n_trees": 50}, "grid": {"max_depth": {"values": [2, 4, 8]}}},
    {"algorithm": "logistic_regression"}
  ],
  "objective": {"metric": "f1_macro", "target": 0.95},
  "maxTrials": 7,
  "seed": "42"
}`

func wantSpec() *orchestratorv1.PipelineSpec {
	target := 0.95
	return &orchestratorv1.PipelineSpec{
		Name: "iris-forest",
		Source: &orchestratorv1.Source{
			Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"},
			Csv:  &ingestv1.CsvOptions{Delimiter: ",", CategoricalColumns: []string{"species"}},
		},
		Label:   "species",
		Task:    datav1.Task_TASK_CLASSIFICATION,
		Prepare: &prepv1.PrepareOptions{ValidationFraction: 0.25, NumericImpute: prepv1.NumericImpute_NUMERIC_IMPUTE_MEDIAN},
		Candidates: []*orchestratorv1.Candidate{
			{
				Algorithm: "random_forest",
				Params:    map[string]float64{"n_trees": 50},
				Grid:      map[string]*orchestratorv1.ParamValues{"max_depth": {Values: []float64{2, 4, 8}}},
			},
			{Algorithm: "logistic_regression"},
		},
		Objective: &orchestratorv1.Objective{Metric: "f1_macro", Target: &target},
		MaxTrials: 7,
		Seed:      42,
	}
}

func TestParseSpecYAMLAndJSONAgree(t *testing.T) {
	want := wantSpec()
	for _, tc := range []struct{ name, text string }{
		{"yaml", specYAML},
		{"json", specJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSpec([]byte(tc.text))
			if err != nil {
				t.Fatalf("parseSpec: %v", err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("spec mismatch\n got: %v\nwant: %v", got, want)
			}
		})
	}
}

func TestParseSpecRoundTripsProtoJSON(t *testing.T) {
	// What grpcurl or a generated client would send must parse to the same
	// message.
	b, err := protojson.Marshal(wantSpec())
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseSpec(b)
	if err != nil {
		t.Fatalf("parseSpec(%s): %v", b, err)
	}
	if !proto.Equal(got, wantSpec()) {
		t.Errorf("round trip mismatch: %v", got)
	}
}

// aliasBomb expands to 9^7 values ("billion laughs").
const aliasBomb = `a: &a [x,x,x,x,x,x,x,x,x]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]
`

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string // substrings of the error
	}{
		{"unknown top-level field", "label: y\nlable: x\n", []string{"unknown field", `"lable"`}},
		{"unknown nested field", "source: {bundled: iris, pth: x}\n", []string{"unknown field", `"pth"`}},
		{"bad task", "task: classification\n", []string{"task", "classification"}},
		{"wrong type", "max_trials: many\n", []string{"maxTrials", "many"}},
		{"two documents", "label: a\n---\nlabel: b\n", []string{"one YAML document"}},
		{"duplicate key", "label: a\nlabel: b\n", []string{"label"}},
		{"infinite int", "seed: .inf\n", []string{"seed"}},
		{"huge int", "seed: 123456789012345678901234567890\n", []string{"seed"}},
		{"deep", "name: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n", []string{"nested too deeply"}},
		{"alias bomb", aliasBomb, []string{"spec too large"}},
		{"two source kinds", "source: {bundled: iris, path: a.csv}\n", []string{"oneof"}},
		{"empty", "  \n", []string{"empty"}},
		{"list, not mapping", "- a\n- b\n", []string{"mapping"}},
		{"scalar", "iris\n", []string{"mapping"}},
		{"bad yaml", "name: [unclosed\n", []string{"YAML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSpec([]byte(tc.text))
			if err == nil {
				t.Fatal("parseSpec succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "(line ") {
				t.Errorf("error %q points into the converted JSON", err)
			}
		})
	}
}

func TestParseSpecYAMLScalars(t *testing.T) {
	// YAML 1.1 would read y, no and on as booleans; a label or name is a
	// string whatever it looks like.
	for _, tc := range []struct {
		text string
		want *orchestratorv1.PipelineSpec
	}{
		{"label: y\nname: on\n", &orchestratorv1.PipelineSpec{Label: "y", Name: "on"}},
		{"label: no\nname: 2024-01-02\n", &orchestratorv1.PipelineSpec{Label: "no", Name: "2024-01-02"}},
		{"label: \"007\"\nseed: 0x10\n", &orchestratorv1.PipelineSpec{Label: "007", Seed: 16}},
		{"objective: {target: .inf}\n", &orchestratorv1.PipelineSpec{Objective: &orchestratorv1.Objective{Target: proto.Float64(math.Inf(1))}}},
		{"candidates: [{algorithm: knn, params: {1: 2}}]\n", &orchestratorv1.PipelineSpec{Candidates: []*orchestratorv1.Candidate{{Algorithm: "knn", Params: map[string]float64{"1": 2}}}}},
	} {
		got, err := parseSpec([]byte(tc.text))
		if err != nil {
			t.Errorf("parseSpec(%q): %v", tc.text, err)
			continue
		}
		if !proto.Equal(got, tc.want) {
			t.Errorf("parseSpec(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestLoadSpecNamesFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(good, []byte(specYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := loadSpec(good); err != nil || !proto.Equal(got, wantSpec()) {
		t.Fatalf("loadSpec(good) = %v, %v", got, err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"label": "y", "foo": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadSpec(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `"foo"`) {
		t.Errorf("loadSpec(bad) error = %v, want file name and field", err)
	}
	if _, err := loadSpec(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("loadSpec(missing) succeeded")
	}
}

func TestParseTask(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    datav1.Task
		wantErr bool
	}{
		{"", datav1.Task_TASK_UNSPECIFIED, false},
		{"auto", datav1.Task_TASK_UNSPECIFIED, false},
		{"classification", datav1.Task_TASK_CLASSIFICATION, false},
		{"Regression", datav1.Task_TASK_REGRESSION, false},
		{"TASK_CLASSIFICATION", datav1.Task_TASK_CLASSIFICATION, false},
		{"clustering", 0, true},
	} {
		got, err := parseTask(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseTask(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestBuildShortSpec(t *testing.T) {
	target := 0.9
	for _, tc := range []struct {
		name    string
		in      shortForm
		want    *orchestratorv1.PipelineSpec
		wantErr string
	}{
		{
			name: "minimal",
			in:   shortForm{csv: "data/sales.csv", label: "revenue", seed: 42},
			want: &orchestratorv1.PipelineSpec{
				Name:   "sales",
				Source: &orchestratorv1.Source{Csv: &ingestv1.CsvOptions{Name: "sales.csv"}},
				Label:  "revenue",
				Seed:   42,
			},
		},
		{
			name: "everything",
			in: shortForm{csv: "x/churn.csv", name: "c1", label: " churned ", task: "classification",
				algorithms: "random_forest, logistic_regression,", metric: "roc_auc", target: 0.9, hasTarget: true,
				maxTrials: 5, seed: 7, splitColumn: "split", delimiter: ";"},
			want: &orchestratorv1.PipelineSpec{
				Name:   "c1",
				Source: &orchestratorv1.Source{Csv: &ingestv1.CsvOptions{Name: "churn.csv", Delimiter: ";"}},
				Label:  "churned",
				Task:   datav1.Task_TASK_CLASSIFICATION,
				Candidates: []*orchestratorv1.Candidate{
					{Algorithm: "random_forest"}, {Algorithm: "logistic_regression"},
				},
				Objective: &orchestratorv1.Objective{Metric: "roc_auc", Target: &target},
				MaxTrials: 5,
				Seed:      7,
				Prepare:   &prepv1.PrepareOptions{SplitColumn: "split"},
			},
		},
		{
			name: "target zero is kept",
			in:   shortForm{csv: "a.csv", label: "y", metric: "rmse", hasTarget: true},
			want: &orchestratorv1.PipelineSpec{
				Name:      "a",
				Source:    &orchestratorv1.Source{Csv: &ingestv1.CsvOptions{Name: "a.csv"}},
				Label:     "y",
				Objective: &orchestratorv1.Objective{Metric: "rmse", Target: new(float64)},
			},
		},
		{
			name: "time budget and kept columns",
			in:   shortForm{csv: "a.csv", label: "y", timeBudget: 90 * time.Second, keep: "id, row,"},
			want: &orchestratorv1.PipelineSpec{
				Name:       "a",
				Source:     &orchestratorv1.Source{Csv: &ingestv1.CsvOptions{Name: "a.csv"}},
				Label:      "y",
				TimeBudget: durationpb.New(90 * time.Second),
				Prepare:    &prepv1.PrepareOptions{KeepColumns: []string{"id", "row"}},
			},
		},
		{name: "metric of the other task", in: shortForm{csv: "a.csv", label: "y", task: "regression", metric: "accuracy"}, wantErr: "--metric"},
		{name: "negative time budget", in: shortForm{csv: "a.csv", label: "y", timeBudget: -time.Second}, wantErr: "--time-budget"},
		{name: "no label", in: shortForm{csv: "a.csv"}, wantErr: "--label"},
		{name: "no csv", in: shortForm{label: "y"}, wantErr: "--csv"},
		{name: "bad task", in: shortForm{csv: "a.csv", label: "y", task: "ranking"}, wantErr: "--task"},
		{name: "trials too many", in: shortForm{csv: "a.csv", label: "y", maxTrials: 1001}, wantErr: "--max-trials"},
		{name: "trials negative", in: shortForm{csv: "a.csv", label: "y", maxTrials: -1}, wantErr: "--max-trials"},
		{name: "duplicate algorithm", in: shortForm{csv: "a.csv", label: "y", algorithms: "knn,knn"}, wantErr: "twice"},
		{name: "long delimiter", in: shortForm{csv: "a.csv", label: "y", delimiter: "::"}, wantErr: "--delimiter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := buildShortSpec(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tc.want) {
				t.Errorf("spec mismatch\n got: %v\nwant: %v", got, tc.want)
			}
		})
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(specYAML))
	f.Add([]byte(specJSON))
	f.Add([]byte("label: y\nfoo: 1\n"))
	f.Add([]byte("{}"))
	f.Add([]byte("- 1"))
	f.Add([]byte("seed: 1e400"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := parseSpec(data)
		if err != nil {
			return
		}
		// Whatever parses must survive a trip through protojson, as it
		// will on the way to the server.
		b, err := protojson.Marshal(spec)
		if err != nil {
			t.Fatalf("marshal parsed spec: %v", err)
		}
		again, err := parseSpec(b)
		if err != nil {
			t.Fatalf("reparse %s: %v", b, err)
		}
		if !proto.Equal(spec, again) {
			t.Fatalf("round trip changed the spec:\n%v\n%v", spec, again)
		}
	})
}
