package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	yaml "sigs.k8s.io/yaml/goyaml.v3"

	"github.com/alur-ml/alur/ml/metrics"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// maxSpecBytes bounds a spec file. Specs are a few hundred bytes; anything
// near this is a mistake (a data file passed to -f, say).
const maxSpecBytes = 1 << 20

// loadSpec reads a pipeline spec from a YAML or JSON file.
func loadSpec(path string) (*orchestratorv1.PipelineSpec, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxSpecBytes {
		return nil, fmt.Errorf("%s: %d bytes is too large for a pipeline spec (limit %d)", path, st.Size(), maxSpecBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	spec, err := parseSpec(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return spec, nil
}

// parseSpec decodes a PipelineSpec written as YAML or JSON. The YAML is
// converted to JSON and decoded with protojson, so the accepted field names
// (proto names such as max_trials, or JSON names such as maxTrials), enum
// spellings (task: TASK_CLASSIFICATION) and errors are exactly those of
// grpcurl and generated clients. Unknown fields are errors, so a typo cannot
// silently drop a setting.
func parseSpec(data []byte) (*orchestratorv1.PipelineSpec, error) {
	js, err := yamlToJSON(data)
	if err != nil {
		return nil, err
	}
	spec := &orchestratorv1.PipelineSpec{}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, spec); err != nil {
		return nil, fmt.Errorf("invalid pipeline spec: %s", protoErrorText(err))
	}
	return spec, nil
}

// yamlToJSON converts one YAML (or JSON, which is YAML) document holding a
// mapping to JSON. It reads YAML 1.2 scalars, where only true and false are
// booleans: with YAML 1.1 (which sigs.k8s.io/yaml.YAMLToJSON follows),
// "label: y" or "label: no" would become a boolean and the spec would be
// refused. Strings that look like dates stay as written. Infinities and
// NaN become the strings protojson reads for doubles ("Infinity",
// "-Infinity", "NaN").
func yamlToJSON(data []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty pipeline spec")
		}
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
		}
		return nil, errors.New("a spec file holds one YAML document, found more")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	for root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode {
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			return nil, errors.New("empty pipeline spec")
		}
		return nil, errors.New("a pipeline spec must be a mapping of fields (name, source, label, ...)")
	}
	conv := &yamlConverter{}
	v, err := conv.node(root, "", 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// Limits on a spec's shape. A spec is a few levels deep and a few hundred
// values; the node limit stops aliases that expand exponentially
// ("billion laughs").
const (
	maxYAMLDepth = 64
	maxYAMLNodes = 200_000
)

// yamlConverter turns YAML nodes into values encoding/json writes the way
// protojson reads them, counting the nodes it expands.
type yamlConverter struct {
	nodes int
}

// node converts n; path names it in errors.
func (c *yamlConverter) node(n *yaml.Node, path string, depth int) (any, error) {
	if depth > maxYAMLDepth {
		return nil, fmt.Errorf("%s: nested too deeply", orRoot(path))
	}
	if c.nodes++; c.nodes > maxYAMLNodes {
		return nil, fmt.Errorf("spec too large: more than %d values once aliases are expanded", maxYAMLNodes)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("%s: unknown alias", orRoot(path))
		}
		return c.node(n.Alias, path, depth+1)
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s: line %d: mapping keys must be names", orRoot(path), k.Line)
			}
			if k.Tag == "!!merge" || k.Value == "<<" && k.Style == 0 {
				return nil, fmt.Errorf("%s: line %d: merge keys (<<) are not supported", orRoot(path), k.Line)
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("%s: line %d: key %q given twice", orRoot(path), k.Line, k.Value)
			}
			v, err := c.node(n.Content[i+1], joinPath(path, k.Value), depth+1)
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, e := range n.Content {
			v, err := c.node(e, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.ScalarNode:
		return scalarToJSON(n, path)
	}
	return nil, fmt.Errorf("%s: line %d: unsupported YAML node", orRoot(path), n.Line)
}

// scalarToJSON types a scalar by its resolved YAML 1.2 tag: null, bool,
// int and float become JSON values; everything else (strings, and
// timestamps or binary, which protojson reads as strings) keeps its text.
func scalarToJSON(n *yaml.Node, path string) (any, error) {
	bad := func(err error) error { return fmt.Errorf("%s: line %d: %w", orRoot(path), n.Line, err) }
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, bad(err)
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return u, nil
		}
		return nil, bad(fmt.Errorf("integer %s is out of range", n.Value))
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, bad(err)
		}
		switch {
		case math.IsNaN(f):
			return "NaN", nil
		case math.IsInf(f, 1):
			return "Infinity", nil
		case math.IsInf(f, -1):
			return "-Infinity", nil
		}
		return f, nil
	}
	return n.Value, nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "spec"
	}
	return path
}

// protoErrorText strips the "proto:" prefix from protobuf errors (which is
// deliberately written with varying whitespace) and the "(line L:C)"
// position, which points into the JSON converted from the user's file
// rather than into the file itself.
func protoErrorText(err error) string {
	s := err.Error()
	if rest, ok := strings.CutPrefix(s, "proto:"); ok {
		s = strings.TrimLeft(rest, " \u00a0")
	}
	return jsonPosition.ReplaceAllString(s, "")
}

// jsonPosition matches the position protojson puts in its errors.
var jsonPosition = regexp.MustCompile(`\(line \d+:\d+\):\s*`)

// parseTask accepts a task as people write it ("classification",
// "regression") or as the enum is named (TASK_CLASSIFICATION); empty means
// unspecified (inferred by the server).
func parseTask(s string) (datav1.Task, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return datav1.Task_TASK_UNSPECIFIED, nil
	case "classification", "task_classification":
		return datav1.Task_TASK_CLASSIFICATION, nil
	case "regression", "task_regression":
		return datav1.Task_TASK_REGRESSION, nil
	}
	return 0, fmt.Errorf("unknown task %q (want classification or regression)", s)
}

// shortForm holds the flags of `alur run --csv FILE --label COL ...`.
type shortForm struct {
	csv         string
	name        string
	label       string
	task        string
	algorithms  string
	metric      string
	target      float64
	hasTarget   bool
	maxTrials   int
	seed        int64
	splitColumn string
	delimiter   string
	maxBadRows  int64
	timeBudget  time.Duration
	keep        string
}

// buildShortSpec turns the short form into a spec. The source is left for
// the caller to fill in with the digest of the uploaded file; the CSV
// options name the table after the file.
func buildShortSpec(f shortForm) (*orchestratorv1.PipelineSpec, error) {
	if f.csv == "" {
		return nil, errors.New("--csv is required (or -f SPEC)")
	}
	if strings.TrimSpace(f.label) == "" {
		return nil, errors.New("--label is required with --csv")
	}
	task, err := parseTask(f.task)
	if err != nil {
		return nil, fmt.Errorf("--task: %w", err)
	}
	if m := strings.TrimSpace(f.metric); m != "" && task != datav1.Task_TASK_UNSPECIFIED && !metrics.KnownMetric(m, task) {
		return nil, fmt.Errorf("--metric: %q does not apply to %s (--task %s): use %s", m, f.task, f.task, strings.Join(metrics.Names(task), ", "))
	}
	if f.timeBudget < 0 {
		return nil, fmt.Errorf("--time-budget must not be negative, got %s", f.timeBudget)
	}
	if f.maxTrials < 0 || f.maxTrials > 1000 {
		return nil, fmt.Errorf("--max-trials must be in [0, 1000], got %d", f.maxTrials)
	}
	var candidates []*orchestratorv1.Candidate
	seen := map[string]bool{}
	for _, name := range strings.Split(f.algorithms, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if seen[name] {
			return nil, fmt.Errorf("--algorithms names %q twice", name)
		}
		seen[name] = true
		candidates = append(candidates, &orchestratorv1.Candidate{Algorithm: name})
	}
	if f.delimiter != "" && len([]rune(f.delimiter)) != 1 {
		return nil, fmt.Errorf("--delimiter must be one character, got %q", f.delimiter)
	}
	if f.maxBadRows < 0 {
		return nil, fmt.Errorf("--max-bad-rows must not be negative, got %d", f.maxBadRows)
	}
	base := filepath.Base(f.csv)
	name := f.name
	if name == "" {
		name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	spec := &orchestratorv1.PipelineSpec{
		Name:       name,
		Source:     &orchestratorv1.Source{Csv: &ingestv1.CsvOptions{Name: base, Delimiter: f.delimiter, MaxBadRows: f.maxBadRows}},
		Label:      strings.TrimSpace(f.label),
		Task:       task,
		Candidates: candidates,
		MaxTrials:  int32(f.maxTrials),
		Seed:       f.seed,
	}
	if f.timeBudget > 0 {
		spec.TimeBudget = durationpb.New(f.timeBudget)
	}
	var keep []string
	for _, k := range strings.Split(f.keep, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keep = append(keep, k)
		}
	}
	if f.splitColumn != "" || len(keep) > 0 {
		spec.Prepare = &prepv1.PrepareOptions{SplitColumn: f.splitColumn, KeepColumns: keep}
	}
	if f.metric != "" || f.hasTarget {
		spec.Objective = &orchestratorv1.Objective{Metric: f.metric}
		if f.hasTarget {
			t := f.target
			spec.Objective.Target = &t
		}
	}
	return spec, nil
}

// sourceSummary says where a spec's data comes from, for people.
func sourceSummary(src *orchestratorv1.Source) string {
	switch k := src.GetKind().(type) {
	case *orchestratorv1.Source_Bundled:
		return "bundled " + k.Bundled
	case *orchestratorv1.Source_Path:
		return "path " + k.Path
	case *orchestratorv1.Source_Upload:
		if n := src.GetCsv().GetName(); n != "" {
			return "upload " + n + " (" + shortDigest(k.Upload) + ")"
		}
		return "upload " + shortDigest(k.Upload)
	case *orchestratorv1.Source_Url:
		return "url " + k.Url
	case *orchestratorv1.Source_Dataset:
		if v := k.Dataset.GetVersion(); v > 0 {
			return fmt.Sprintf("dataset %s version %d", k.Dataset.GetName(), v)
		}
		return "dataset " + k.Dataset.GetName() + " (latest)"
	}
	return "none"
}

// runName is the short name of a run for lists: the spec's name, else the
// dataset it reads.
func runName(spec *orchestratorv1.PipelineSpec) string {
	if spec.GetName() != "" {
		return spec.GetName()
	}
	src := spec.GetSource()
	switch k := src.GetKind().(type) {
	case *orchestratorv1.Source_Bundled:
		return k.Bundled
	case *orchestratorv1.Source_Path:
		return filepath.Base(k.Path)
	case *orchestratorv1.Source_Upload:
		if n := src.GetCsv().GetName(); n != "" {
			return n
		}
		return shortDigest(k.Upload)
	case *orchestratorv1.Source_Url:
		return path.Base(k.Url)
	case *orchestratorv1.Source_Dataset:
		return k.Dataset.GetName()
	}
	return "-"
}

// shortDigest abbreviates a sha256 hex digest for tables, as git does.
func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}
