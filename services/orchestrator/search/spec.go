package search

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/metrics"
	"github.com/alur-ml/alur/ml/selection"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	"github.com/alur-ml/alur/services/orchestrator/fault"
)

// Spec limits and defaults. They are documented on PipelineSpec.
const (
	defaultMaxTrials = 20
	maxMaxTrials     = 1000
	maxCandidates    = 100
	maxGridValues    = 1000
	maxSamples       = 1000
	defaultSamples   = 10
	maxCVFolds       = 20
)

// DatasetNamePattern is what a dataset name looks like: short, lowercase,
// safe in a URL, a file name and a CLI argument ("sales", "iris-2025.q1").
var DatasetNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// fieldErr names the spec field that is wrong; handlers answer it as
// InvalidArgument with a BadRequest detail.
func fieldErr(field, format string, args ...any) error { return fault.Field(field, format, args...) }

// ValidateSpec checks everything about a spec that can be checked without
// the data: the source, the label, the task, the candidates' algorithms and
// hyperparameters (against cat, the algorithms train serves), the objective
// and the budget. What depends on the data (does the label exist, is it
// constant) is checked by the stages and fails the run with their precise
// status.
func ValidateSpec(s *orchestratorv1.PipelineSpec, cat *algo.Catalog) error {
	if s == nil {
		return fieldErr("spec", "is required")
	}
	if err := ValidateSource("spec.source", s.GetSource()); err != nil {
		return err
	}
	if strings.TrimSpace(s.GetLabel()) == "" {
		return fieldErr("spec.label", "is required: name the column to predict")
	}
	if _, ok := datav1.Task_name[int32(s.GetTask())]; !ok {
		return fieldErr("spec.task", "unknown task %d", s.GetTask())
	}
	if err := validatePrepare(s.GetPrepare(), s.GetLabel()); err != nil {
		return err
	}
	if n := len(s.GetCandidates()); n > maxCandidates {
		return fieldErr("spec.candidates", "%d candidates, at most %d", n, maxCandidates)
	}
	for i, c := range s.GetCandidates() {
		if err := validateCandidate(fmt.Sprintf("spec.candidates[%d]", i), c, s.GetTask(), cat); err != nil {
			return err
		}
	}
	if m := s.GetObjective().GetMetric(); m != "" {
		task := s.GetTask()
		if !metrics.KnownMetric(m, task) && !(task == datav1.Task_TASK_UNSPECIFIED &&
			(metrics.KnownMetric(m, datav1.Task_TASK_CLASSIFICATION) || metrics.KnownMetric(m, datav1.Task_TASK_REGRESSION))) {
			return fieldErr("spec.objective.metric", "unknown metric %q for %s: use accuracy, f1_macro, f1_weighted, roc_auc, log_loss (classification) or r2, rmse, mae (regression)", m, TaskWord(task))
		}
	}
	if s.GetObjective() != nil && s.GetObjective().Target != nil {
		if t := s.GetObjective().GetTarget(); math.IsNaN(t) || math.IsInf(t, 0) {
			return fieldErr("spec.objective.target", "must be a finite number")
		}
	}
	if n := s.GetCvFolds(); n < 0 || n > maxCVFolds {
		return fieldErr("spec.cv_folds", "%d is outside [0, %d]", n, maxCVFolds)
	}
	if n := s.GetMaxTrials(); n < 0 || n > maxMaxTrials {
		return fieldErr("spec.max_trials", "%d is outside [0, %d]", n, maxMaxTrials)
	}
	if b := s.GetTimeBudget(); b != nil && (b.CheckValid() != nil || b.AsDuration() < 0) {
		return fieldErr("spec.time_budget", "%v is not a duration of 0 or more", b.AsDuration())
	}
	return nil
}

// ValidateSource checks a source's kind and shape; field is its path in
// the request, such as "spec.source".
func ValidateSource(field string, src *orchestratorv1.Source) error {
	switch {
	case src == nil || src.GetKind() == nil:
		return fieldErr(field, "is required: set bundled, path, upload, url or dataset")
	case src.GetDataset() != nil:
		ds := src.GetDataset()
		if !DatasetNamePattern.MatchString(ds.GetName()) {
			return fieldErr(field+".dataset.name", "%q is not a dataset name: use a lowercase letter or digit, then up to 63 lowercase letters, digits, '.', '_' or '-'", ds.GetName())
		}
		if ds.GetVersion() < 0 {
			return fieldErr(field+".dataset.version", "%d is negative: versions count from 1, 0 means the latest", ds.GetVersion())
		}
		return nil
	case src.GetBundled() == "" && src.GetPath() == "" && src.GetUpload() == "" && src.GetUrl() == "":
		return fieldErr(field, "the chosen source kind is empty")
	}
	if u := src.GetUpload(); u != "" && !IsDigest(u) {
		return fieldErr(field+".upload", "%q is not a sha256 digest (64 lowercase hex characters) from UploadSource", u)
	}
	if u := src.GetUrl(); u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return fieldErr(field+".url", "%q is not an http or https URL", u)
	}
	return nil
}

func validatePrepare(p *prepv1.PrepareOptions, label string) error {
	if p == nil {
		return nil
	}
	// The prepare step takes the label from the spec; check the cleaning
	// options against it now, with the spec's field names.
	withLabel := proto.CloneOf(p)
	withLabel.Label = label
	if err := dataprep.ValidateCleaning(withLabel); err != nil {
		var oe *dataprep.OptionError
		if errors.As(err, &oe) {
			return fieldErr("spec.prepare."+strings.TrimPrefix(oe.Field, "options."), "%s", oe.Reason)
		}
		return err
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"validation_fraction", p.GetValidationFraction()}, {"test_fraction", p.GetTestFraction()}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v >= 0.9 {
			return fieldErr("spec.prepare."+f.name, "%g is outside [0, 0.9)", f.v)
		}
	}
	if p.GetValidationFraction()+p.GetTestFraction() >= 0.95 {
		return fieldErr("spec.prepare", "validation_fraction + test_fraction leaves almost no training rows")
	}
	if p.GetMaxCategories() < 0 {
		return fieldErr("spec.prepare.max_categories", "must not be negative")
	}
	if _, ok := prepv1.NumericImpute_name[int32(p.GetNumericImpute())]; !ok {
		return fieldErr("spec.prepare.numeric_impute", "unknown value %d", p.GetNumericImpute())
	}
	return nil
}

func validateCandidate(field string, c *orchestratorv1.Candidate, task datav1.Task, cat *algo.Catalog) error {
	spec, ok := cat.Lookup(c.GetAlgorithm())
	if !ok {
		return fieldErr(field+".algorithm", "unknown algorithm %q (train serves: %s)", c.GetAlgorithm(), strings.Join(cat.Names(), ", "))
	}
	if task != datav1.Task_TASK_UNSPECIFIED && !spec.Supports(task) {
		return fieldErr(field+".algorithm", "%s does not support %s", c.GetAlgorithm(), TaskWord(task))
	}
	if _, err := spec.ResolveParams(c.GetParams()); err != nil {
		return paramFieldErr(field+".params", err)
	}
	if n := c.GetSamples(); n < 0 || n > maxSamples {
		return fieldErr(field+".samples", "%d is outside [0, %d]", n, maxSamples)
	}
	for _, name := range sortedKeys(c.GetRanges()) {
		r := c.GetRanges()[name]
		f := fmt.Sprintf("%s.ranges[%q]", field, name)
		switch {
		case r == nil:
			return fieldErr(f, "is empty")
		case math.IsNaN(r.GetMin()) || math.IsNaN(r.GetMax()) || math.IsInf(r.GetMin(), 0) || math.IsInf(r.GetMax(), 0):
			return fieldErr(f, "min and max must be finite numbers")
		case r.GetMin() > r.GetMax():
			return fieldErr(f, "min %g is greater than max %g", r.GetMin(), r.GetMax())
		case r.GetLog() && r.GetMin() <= 0:
			return fieldErr(f, "a log range needs a positive min, got %g", r.GetMin())
		}
		for _, v := range []float64{r.GetMin(), r.GetMax()} {
			if r.GetInteger() {
				v = math.Round(v)
			}
			if _, err := spec.ResolveParams(map[string]float64{name: v}); err != nil {
				return paramFieldErr(field+".ranges", err)
			}
		}
	}
	for _, name := range sortedKeys(c.GetGrid()) {
		vals := c.GetGrid()[name].GetValues()
		if len(vals) == 0 {
			return fieldErr(fmt.Sprintf("%s.grid[%q]", field, name), "lists no values")
		}
		if len(vals) > maxGridValues {
			return fieldErr(fmt.Sprintf("%s.grid[%q]", field, name), "%d values, at most %d", len(vals), maxGridValues)
		}
		for _, v := range vals {
			if _, err := spec.ResolveParams(map[string]float64{name: v}); err != nil {
				return paramFieldErr(field+".grid", err)
			}
		}
	}
	return nil
}

func paramFieldErr(prefix string, err error) error {
	if pe, ok := err.(*algo.ParamError); ok {
		return fieldErr(fmt.Sprintf("%s[%q]", prefix, pe.Param), "%s", pe.Reason)
	}
	return fieldErr(prefix, "%v", err)
}

// Config is one candidate configuration to train.
type Config struct {
	Algorithm string
	Params    map[string]float64
}

// defaultAlgorithms is the order in which a spec without candidates tries
// algorithms: fast, strong baselines first, so a target is met early.
var defaultAlgorithms = []string{
	"logistic_regression", "linear_regression", "ridge", "gradient_boosting",
	"random_forest", "extra_trees", "knn", "naive_bayes", "decision_tree",
}

// ExpandCandidates turns the spec's candidates into trial configurations:
// each grid is expanded to every combination (the last parameter varies
// fastest), and the list is cut at the budget. Without candidates every
// algorithm of cat that supports the task is tried with its defaults.
func ExpandCandidates(s *orchestratorv1.PipelineSpec, task datav1.Task, cat *algo.Catalog) []Config {
	budget := int(s.GetMaxTrials())
	if budget == 0 {
		budget = defaultMaxTrials
	}
	var out []Config
	cands := s.GetCandidates()
	if len(cands) == 0 {
		seen := map[string]bool{}
		for _, name := range defaultAlgorithms {
			if a, ok := cat.Lookup(name); ok && a.Supports(task) {
				cands = append(cands, &orchestratorv1.Candidate{Algorithm: name})
				seen[name] = true
			}
		}
		for _, a := range cat.All() {
			if !seen[a.Name] && a.Supports(task) {
				cands = append(cands, &orchestratorv1.Candidate{Algorithm: a.Name})
			}
		}
		cands = withPortfolio(cands, cat)
	}
	for i, c := range cands {
		balance := s.GetBalanceClasses() && task == datav1.Task_TASK_CLASSIFICATION && weighsClasses(cat, c.GetAlgorithm(), task)
		for _, p := range expandRanges(c, s.GetSeed(), i) {
			if _, set := p[algo.BalancedParamName]; balance && !set {
				p[algo.BalancedParamName] = 1
			}
			if len(out) == budget {
				return out
			}
			out = append(out, Config{Algorithm: c.GetAlgorithm(), Params: p})
		}
	}
	return out
}

// withPortfolio appends, after the algorithms' defaults, the entries of
// selection.Portfolio whose algorithm is among them and whose params the
// catalog knows: the settings a default run tries besides the defaults.
func withPortfolio(defaults []*orchestratorv1.Candidate, cat *algo.Catalog) []*orchestratorv1.Candidate {
	out := defaults
	for _, d := range defaults {
		a, ok := cat.Lookup(d.GetAlgorithm())
		if !ok {
			continue
		}
	entries:
		for _, p := range selection.PortfolioFor(d.GetAlgorithm()) {
			for name := range p {
				if _, ok := a.FindParam(name); !ok {
					continue entries // an older train stage: skip what it cannot take
				}
			}
			out = append(out, &orchestratorv1.Candidate{Algorithm: d.GetAlgorithm(), Params: p})
		}
	}
	return out
}

// weighsClasses reports whether the named algorithm can weight classes
// inversely to their frequency on task (algo.BalancedParamName).
func weighsClasses(cat *algo.Catalog, name string, task datav1.Task) bool {
	a, ok := cat.Lookup(name)
	if !ok {
		return false
	}
	p, ok := a.FindParam(algo.BalancedParamName)
	return ok && p.AppliesTo(task)
}

// expandRanges draws the candidate's random-search samples (seeded by the
// spec's seed and the candidate's position, so a spec always yields the
// same trials) and combines each with every grid combination.
func expandRanges(c *orchestratorv1.Candidate, seed int64, index int) []map[string]float64 {
	grid := expandGrid(c)
	if len(c.GetRanges()) == 0 {
		return grid
	}
	n := int(c.GetSamples())
	if n == 0 {
		n = defaultSamples
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(index)+1))
	names := sortedKeys(c.GetRanges())
	var out []map[string]float64
	for range n {
		draw := map[string]float64{}
		for _, name := range names {
			r := c.GetRanges()[name]
			u := rng.Float64()
			var v float64
			if r.GetLog() {
				v = math.Exp(math.Log(r.GetMin()) + u*(math.Log(r.GetMax())-math.Log(r.GetMin())))
			} else {
				v = r.GetMin() + u*(r.GetMax()-r.GetMin())
			}
			v = math.Min(math.Max(v, r.GetMin()), r.GetMax())
			if r.GetInteger() {
				v = math.Round(v)
			}
			draw[name] = v
		}
		for _, g := range grid {
			p := cloneParams(g)
			for k, v := range draw {
				p[k] = v
			}
			out = append(out, p)
		}
	}
	return out
}

func expandGrid(c *orchestratorv1.Candidate) []map[string]float64 {
	combos := []map[string]float64{cloneParams(c.GetParams())}
	for _, name := range sortedKeys(c.GetGrid()) {
		var next []map[string]float64
		for _, base := range combos {
			for _, v := range c.GetGrid()[name].GetValues() {
				p := cloneParams(base)
				p[name] = v
				next = append(next, p)
			}
		}
		combos = next
	}
	return combos
}

func cloneParams(p map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TaskWord names a task in messages.
func TaskWord(t datav1.Task) string {
	switch t {
	case datav1.Task_TASK_CLASSIFICATION:
		return "classification"
	case datav1.Task_TASK_REGRESSION:
		return "regression"
	}
	return "any task"
}

// IsDigest reports whether s is a sha256 digest in lowercase hex.
func IsDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// PrepareOptions is the PrepareOptions the prepare step sends: the spec's,
// with its label, task and seed.
func PrepareOptions(s *orchestratorv1.PipelineSpec) *prepv1.PrepareOptions {
	o := &prepv1.PrepareOptions{}
	if s.GetPrepare() != nil {
		o = proto.Clone(s.GetPrepare()).(*prepv1.PrepareOptions)
	}
	o.Label = s.GetLabel()
	o.Task = s.GetTask()
	o.Seed = s.GetSeed()
	return o
}
