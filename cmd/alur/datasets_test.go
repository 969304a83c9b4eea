package main

import (
	"context"
	"github.com/alur-ml/alur/services/orchestrator/alurtest"
	"github.com/alur-ml/alur/services/orchestrator/stack"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

func TestDatasetsUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"datasets"}, "missing subcommand"},
		{[]string{"datasets", "frob"}, `unknown subcommand "frob"`},
		{[]string{"datasets", "show"}, "missing dataset NAME"},
		{[]string{"datasets", "show", "a", "b"}, `unexpected argument "b"`},
		{[]string{"datasets", "list", "x"}, `unexpected argument "x"`},
		{[]string{"datasets", "append", "d"}, "exactly one of --csv, --bundled, --path or --url"},
		{[]string{"datasets", "append", "d", "--bundled", "iris", "--url", "http://h/x.csv"}, "exactly one of"},
		{[]string{"datasets", "append", "d", "--bundled", "iris", "--delimiter", ";;"}, "one character"},
		{[]string{"datasets", "diff", "d", "one"}, `version "one" is not a positive number`},
		{[]string{"datasets", "diff", "d", "1", "2", "3"}, `unexpected argument "3"`},
		{[]string{"run", "--dataset", "iris", "--csv", "a.csv", "--label", "y"}, "not both"},
		{[]string{"run", "--dataset", "@2", "--label", "y"}, "has no name"},
		{[]string{"run", "--dataset", "iris@0", "--label", "y"}, "not a positive number"},
		{[]string{"run", "--dataset", "iris"}, "--label is required with --dataset"},
		{[]string{"run", "--dataset", "iris", "--label", "y", "--delimiter", ";"}, "does not apply"},
		{[]string{"retrain"}, "missing RUN_ID"},
		{[]string{"retrain", "a", "b"}, `unexpected argument "b"`},
	} {
		a, _, errb := newTestApp(nil)
		if code := runMain(context.Background(), tc.args, a); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %s)", tc.args, code, exitUsage, errb)
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, errb, tc.want)
		}
	}
}

func TestParseDatasetRef(t *testing.T) {
	for _, tc := range []struct {
		in      string
		name    string
		version int64
		bad     bool
	}{
		{"iris", "iris", 0, false}, {"iris@3", "iris", 3, false}, {"iris@v2", "iris", 2, false},
		{"iris@", "", 0, true}, {"@1", "", 0, true}, {"iris@-1", "", 0, true},
	} {
		ref, err := parseDatasetRef(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && (ref.GetName() != tc.name || ref.GetVersion() != tc.version)) {
			t.Errorf("parseDatasetRef(%q) = %v, %v", tc.in, ref, err)
		}
	}
}

// The whole dataset workflow against the real services in process: append
// two batches, run pinned to the first version, retrain on the second.
func TestDatasetsWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two runs")
	}
	dir := t.TempDir()
	st := alurtest.Start(t, stack.Config{DataDir: filepath.Join(dir, "data")})
	env := map[string]string{serverEnv: st.OrchestratorAddr}
	cli := func(args ...string) string {
		t.Helper()
		a, out, errb := newTestApp(env)
		if code := runMain(context.Background(), args, a); code != exitOK {
			t.Fatalf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errb)
		}
		return out.String()
	}
	iris, err := os.ReadFile(filepath.Join("..", "..", "services", "ingest", "datasets", "iris.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(iris)), "\n")
	var first, second []string
	for i, l := range lines[1:] {
		if i%2 == 0 {
			first = append(first, l)
			continue
		}
		// The second batch's petals are 2 cm longer: a shift to report.
		f := strings.Split(l, ",")
		x, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		f[2] = strconv.FormatFloat(x+2, 'f', 1, 64)
		second = append(second, strings.Join(f, ","))
	}
	a := filepath.Join(dir, "a.csv")
	b := filepath.Join(dir, "b.csv")
	for path, rows := range map[string][]string{a: first, b: second} {
		if err := os.WriteFile(path, []byte(lines[0]+"\n"+strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	out := cli("datasets", "append", "flowers", "--csv", a)
	if !strings.Contains(out, "Dataset flowers version 1: 75 rows (+75), 5 columns") {
		t.Errorf("append 1:\n%s", out)
	}
	out = cli("run", "--dataset", "flowers", "--label", "species", "--algorithms", "logistic_regression", "--json")
	run := &orchestratorv1.Run{}
	if err := protojson.Unmarshal([]byte(out), run); err != nil {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	if run.GetSpec().GetSource().GetDataset().GetVersion() != 1 || run.GetDatasetRows() != 75 {
		t.Errorf("run on flowers: spec %v, %d rows", run.GetSpec().GetSource(), run.GetDatasetRows())
	}

	out = cli("datasets", "append", "flowers", "--csv", b)
	for _, want := range []string{"version 2: 150 rows (+75)", "Drift of the 75 rows appended up to version 2 against version 1 (75 rows): major",
		"major shift in petal_length_cm", "COLUMN", "petal_length_cm  numeric", "PSI (NEW ROWS VS V1)", "MEAN (V1 → NEW ROWS)",
		"alur datasets diff NAME 1 2 compares the whole of version 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("append 2 lacks %q:\n%s", want, out)
		}
	}
	out = cli("datasets", "list")
	if !regexp.MustCompile(`(?m)^flowers\s+2\s+150\s+5\s+.*major$`).MatchString(out) {
		t.Errorf("datasets list:\n%s", out)
	}
	out = cli("datasets", "show", "flowers")
	if !regexp.MustCompile(`(?m)^2\s+.*150\s+\+75\s+5\s+major`).MatchString(out) || !regexp.MustCompile(`(?m)^1\s+.*75\s+\+75\s+5\s+-`).MatchString(out) {
		t.Errorf("datasets show:\n%s", out)
	}
	if !strings.Contains(out, "Drift stored with version 2, measured when its batch was appended:") || !strings.Contains(out, "PSI (NEW ROWS VS V1)") {
		t.Errorf("datasets show does not say which comparison its drift is:\n%s", out)
	}
	// diff compares whole versions by default, and says so.
	out = cli("datasets", "diff", "flowers", "1", "2")
	for _, want := range []string{"Drift of whole version 2 (150 rows) against version 1 (75 rows)", "PSI (V2 VS V1)", "--appended compares only the rows added after version 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	out = cli("datasets", "diff", "flowers", "1", "2", "--json")
	diff := &orchestratorv1.CompareVersionsResponse{}
	if err := protojson.Unmarshal([]byte(out), diff); err != nil {
		t.Fatalf("diff --json: %v\n%s", err, out)
	}
	if r := diff.GetReport(); r.GetFromVersion() != 1 || r.GetToVersion() != 2 || r.GetComparedRows() != 150 || r.GetAppendedOnly() {
		t.Errorf("diff report %v", r)
	}

	out = cli("retrain", run.GetId())
	for _, want := range []string{"retrains " + run.GetId() + " on dataset flowers: version 1 → 2", "Leaderboard:", "TEST ACCURACY"} {
		if !strings.Contains(out, want) {
			t.Errorf("retrain lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(run.GetId())+`\s+flowers\s+1\s+[0-9.]+$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\S+\s+flowers\s+2\s+[0-9.]+$`).MatchString(out) {
		t.Errorf("retrain comparison lacks both runs' test scores:\n%s", out)
	}
}

func FuzzParseDatasetRef(f *testing.F) {
	for _, s := range []string{"iris", "iris@2", "iris@v3", "@", "a@b@c", "x@-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := parseDatasetRef(s)
		if err != nil {
			return
		}
		if ref.GetName() == "" || ref.GetVersion() < 0 || strings.Contains(ref.GetName(), "@") {
			t.Fatalf("parseDatasetRef(%q) = %v", s, ref)
		}
	})
}
