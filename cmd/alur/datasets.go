package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/alur-ml/alur/ml/display"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

const datasetsUsage = `
Usage:
  alur datasets list [--json]
  alur datasets show NAME [--json]
  alur datasets append NAME (--csv FILE | --bundled NAME | --path P | --url U)
                       [--delimiter c] [--categorical a,b] [--max-bad-rows n] [--json]
  alur datasets diff NAME [FROM [TO]] [--appended] [--json]

A dataset is a named table that grows: each append collects a batch through
the ingest service and makes a new immutable version holding every earlier
row followed by the batch, with its row count, digest and a drift report
against the previous version.

Schema changes between batches: a new column is added (missing in the older
rows), an absent column is filled missing, a boolean column that turns
numeric is widened, and a column that turns from numbers to categories (or
back) is refused, naming the column: list it with --categorical, or start a
new dataset.

Run on a dataset with "alur run --dataset NAME[@VERSION] --label COL"; a
run pins the version it read. "alur retrain RUN_ID" runs the same spec on
the latest version.
`

const datasetsAppendUsage = `
Usage:
  alur datasets append NAME (--csv FILE | --bundled NAME | --path P | --url U)
                       [--delimiter c] [--categorical a,b] [--max-bad-rows n] [--json]

Appends a batch to the dataset NAME (created on the first append) and prints
the new version and its drift report against the previous one. --csv uploads
a local file first; --path is read by the ingest service under its data
root; --url is fetched by the ingest service (if it allows the host).
`

const datasetsDiffUsage = `
Usage:
  alur datasets diff NAME [FROM [TO]] [--appended] [--json]

Compares two versions of a dataset: columns added, removed or retyped, and
each column's shift (PSI: below 0.1 stable, 0.1 to 0.25 moderate, above 0.25
major; the Kolmogorov-Smirnov statistic and p-value for numbers; new and
vanished categories; missing rates). TO defaults to the latest version and
FROM to the one before TO. --appended compares FROM with only the rows
appended after it.
`

func runDatasets(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return usageErrorf("datasets", "missing subcommand: list, show, append or diff")
	}
	switch args[0] {
	case "list", "ls":
		return runDatasetsList(ctx, a, args[1:])
	case "show", "get":
		return runDatasetsShow(ctx, a, args[1:])
	case "append", "add":
		return runDatasetsAppend(ctx, a, args[1:])
	case "diff", "compare":
		return runDatasetsDiff(ctx, a, args[1:])
	case "-h", "-help", "--help", "help":
		printCommandHelp(a.stdout, flag.NewFlagSet("datasets", flag.ContinueOnError), datasetsUsage)
		return flag.ErrHelp
	}
	return usageErrorf("datasets", "unknown subcommand %q (want list, show, append or diff)", args[0])
}

// datasetCommand parses a datasets subcommand's client flags and --json,
// checks its positional argument count, and dials.
func datasetCommand(a *app, name, usage string, args []string, minArgs, maxArgs int, extra func(fs *flag.FlagSet)) (*client, []string, bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs, a.getenv)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	if extra != nil {
		extra(fs)
	}
	rest, err := parseFlags(a, fs, usage, args)
	if err != nil {
		return nil, nil, false, err
	}
	switch {
	case len(rest) < minArgs:
		return nil, nil, false, usageErrorf(name, "missing dataset NAME")
	case len(rest) > maxArgs:
		return nil, nil, false, usageErrorf(name, "unexpected argument %q", rest[maxArgs])
	}
	if err := cf.validate(name); err != nil {
		return nil, nil, false, err
	}
	c, err := cf.dial()
	if err != nil {
		return nil, nil, false, err
	}
	return c, rest, *asJSON, nil
}

func runDatasetsList(ctx context.Context, a *app, args []string) error {
	c, _, asJSON, err := datasetCommand(a, "datasets list", "Usage:\n  alur datasets list [--json]\n\nLists the datasets with their latest version.", args, 0, 0, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.orch.ListDatasets(cctx, &orchestratorv1.ListDatasetsRequest{})
	if err != nil {
		return c.wrap("ListDatasets", err)
	}
	if asJSON {
		return printJSON(a.stdout, resp)
	}
	writeDatasetList(a.stdout, resp.GetDatasets())
	return nil
}

func runDatasetsShow(ctx context.Context, a *app, args []string) error {
	c, rest, asJSON, err := datasetCommand(a, "datasets show", "Usage:\n  alur datasets show NAME [--json]\n\nShows a dataset's versions, newest first, and the latest drift report.", args, 1, 1, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.orch.GetDataset(cctx, &orchestratorv1.GetDatasetRequest{Name: rest[0]})
	if err != nil {
		return c.wrap("GetDataset", err)
	}
	if asJSON {
		return printJSON(a.stdout, resp)
	}
	writeDatasetDetails(a.stdout, resp.GetDataset())
	return nil
}

func runDatasetsAppend(ctx context.Context, a *app, args []string) error {
	var csvFile, bundled, path, url, delimiter, categorical string
	var maxBadRows int64
	c, rest, asJSON, err := datasetCommand(a, "datasets append", datasetsAppendUsage, args, 1, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&csvFile, "csv", "", "local `file` to upload and append")
		fs.StringVar(&bundled, "bundled", "", "bundled dataset `name` to append (iris, wine, breast_cancer)")
		fs.StringVar(&path, "path", "", "`path` under the ingest service's data root")
		fs.StringVar(&url, "url", "", "http(s) `URL` for the ingest service to fetch")
		fs.StringVar(&delimiter, "delimiter", "", "CSV field separator (default: detected)")
		fs.StringVar(&categorical, "categorical", "", "comma-separated `columns` to read as categories even when numeric")
		fs.Int64Var(&maxBadRows, "max-bad-rows", 0, "skip up to `n` malformed rows and report them (default 0: the first one fails)")
	})
	if err != nil {
		return err
	}
	defer c.Close()
	src := &orchestratorv1.Source{}
	given := 0
	for _, k := range []struct {
		value string
		kind  func(string)
	}{
		{csvFile, func(string) {}},
		{bundled, func(v string) { src.Kind = &orchestratorv1.Source_Bundled{Bundled: v} }},
		{path, func(v string) { src.Kind = &orchestratorv1.Source_Path{Path: v} }},
		{url, func(v string) { src.Kind = &orchestratorv1.Source_Url{Url: v} }},
	} {
		if k.value != "" {
			given++
			k.kind(k.value)
		}
	}
	if given != 1 {
		return usageErrorf("datasets append", "give exactly one of --csv, --bundled, --path or --url")
	}
	if delimiter != "" && len([]rune(delimiter)) != 1 {
		return usageErrorf("datasets append", "--delimiter must be one character, got %q", delimiter)
	}
	if maxBadRows < 0 {
		return usageErrorf("datasets append", "--max-bad-rows must not be negative, got %d", maxBadRows)
	}
	opts := &ingestv1.CsvOptions{Delimiter: delimiter, MaxBadRows: maxBadRows}
	for _, col := range strings.Split(categorical, ",") {
		if col = strings.TrimSpace(col); col != "" {
			opts.CategoricalColumns = append(opts.CategoricalColumns, col)
		}
	}
	if csvFile != "" {
		digest, err := c.upload(ctx, csvFile)
		if err != nil {
			return err
		}
		src.Kind = &orchestratorv1.Source_Upload{Upload: digest}
		opts.Name = filepath.Base(csvFile)
	}
	src.Csv = opts
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.orch.AppendDataset(cctx, &orchestratorv1.AppendDatasetRequest{Name: rest[0], Source: src})
	if err != nil {
		return c.wrap("AppendDataset", err)
	}
	if asJSON {
		return printJSON(a.stdout, resp)
	}
	v := resp.GetVersion()
	fmt.Fprintf(a.stdout, "Dataset %s version %d: %s (+%s), %s, digest %s\n",
		resp.GetDataset(), v.GetVersion(), display.Plural(v.GetRows(), "row"), display.Count(v.GetBatchRows()),
		display.Plural(int64(len(v.GetSchema().GetFields())), "column"), shortDigest(v.GetTableDigest()))
	if d := v.GetDrift(); d != nil {
		fmt.Fprintln(a.stdout)
		writeDriftReport(a.stdout, d)
	}
	return nil
}

func runDatasetsDiff(ctx context.Context, a *app, args []string) error {
	var appended bool
	c, rest, asJSON, err := datasetCommand(a, "datasets diff", datasetsDiffUsage, args, 1, 3, func(fs *flag.FlagSet) {
		fs.BoolVar(&appended, "appended", false, "compare FROM with only the rows appended after it")
	})
	if err != nil {
		return err
	}
	defer c.Close()
	req := &orchestratorv1.CompareVersionsRequest{Name: rest[0], AppendedOnly: appended}
	for i, p := range []*int64{&req.FromVersion, &req.ToVersion} {
		if len(rest) > i+1 {
			n, err := strconv.ParseInt(strings.TrimPrefix(rest[i+1], "v"), 10, 64)
			if err != nil || n < 1 {
				return usageErrorf("datasets diff", "version %q is not a positive number", rest[i+1])
			}
			*p = n
		}
	}
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.orch.CompareVersions(cctx, req)
	if err != nil {
		return c.wrap("CompareVersions", err)
	}
	if asJSON {
		return printJSON(a.stdout, resp)
	}
	writeDriftReport(a.stdout, resp.GetReport())
	return nil
}

// parseDatasetRef reads NAME or NAME@VERSION (version 0: the latest).
func parseDatasetRef(s string) (*orchestratorv1.DatasetRef, error) {
	name, ver, ok := strings.Cut(s, "@")
	if name == "" {
		return nil, fmt.Errorf("--dataset %q has no name", s)
	}
	ref := &orchestratorv1.DatasetRef{Name: name}
	if ok {
		n, err := strconv.ParseInt(strings.TrimPrefix(ver, "v"), 10, 64)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--dataset %q: version %q is not a positive number", s, ver)
		}
		ref.Version = n
	}
	return ref, nil
}

// datasetRunSpec builds the short-form spec of `alur run --dataset`.
func datasetRunSpec(specPath string, sf shortForm, set map[string]bool, dataset string) (*orchestratorv1.PipelineSpec, error) {
	switch {
	case specPath != "":
		return nil, usageErrorf("run", "give either -f SPEC or --dataset, not both (in a spec, set source.dataset)")
	case sf.csv != "":
		return nil, usageErrorf("run", "give either --csv FILE or --dataset, not both")
	case set["delimiter"]:
		return nil, usageErrorf("run", "--delimiter does not apply to --dataset: the dataset is parsed already")
	case set["max-bad-rows"]:
		return nil, usageErrorf("run", "--max-bad-rows does not apply to --dataset: the dataset is parsed already")
	}
	ref, err := parseDatasetRef(dataset)
	if err != nil {
		return nil, usageErrorf("run", "%v", err)
	}
	// The short form's builder names the run after the file it reads;
	// here that is the dataset.
	sf.csv = ref.GetName()
	spec, err := buildShortSpec(sf)
	if err != nil {
		return nil, usageErrorf("run", "%v", strings.Replace(err.Error(), "--csv", "--dataset", 1))
	}
	spec.Source = &orchestratorv1.Source{Kind: &orchestratorv1.Source_Dataset{Dataset: ref}}
	return spec, nil
}

const retrainUsage = `
Usage:
  alur retrain RUN_ID [--json] [-v]

Starts a new run with RUN_ID's spec on the latest version of its dataset
(the run must read a dataset: alur run --dataset NAME), follows it like
alur run (one line per trial; -v or --verbose adds each fold's steps), and
compares the two runs' test scores.
`

func runRetrain(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("retrain", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs, a.getenv)
	asJSON := fs.Bool("json", false, "print only the finished run, as JSON, to stdout")
	verbose := fs.Bool("v", false, "also show each trial's steps (every fold's training and evaluation)")
	fs.BoolVar(verbose, "verbose", false, "same as -v")
	rest, err := parseFlags(a, fs, retrainUsage, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) == 0:
		return usageErrorf("retrain", "missing RUN_ID")
	case len(rest) > 1:
		return usageErrorf("retrain", "unexpected argument %q", rest[1])
	}
	if err := cf.validate("retrain"); err != nil {
		return err
	}
	c, err := cf.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	cctx, cancel := c.callCtx(ctx)
	resp, err := c.orch.RetrainRun(cctx, &orchestratorv1.RetrainRunRequest{RunId: rest[0]})
	cancel()
	if err != nil {
		return c.wrap("RetrainRun", err)
	}
	run := resp.GetRun()
	rt := run.GetRetrain()
	var progress io.Writer
	if !*asJSON {
		progress = a.stdout
		fmt.Fprintf(progress, "Run %s retrains %s on dataset %s: version %d → %d\n",
			run.GetId(), rt.GetRunId(), rt.GetDataset(), rt.GetFromVersion(), rt.GetToVersion())
	}
	final, err := c.followRun(ctx, run.GetId(), newProgressPrinter(progress, run, *verbose))
	if err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(a.stdout, final); err != nil {
			return err
		}
		return runOutcome(final)
	}
	writeRunReport(a.stdout, final)
	fmt.Fprintln(a.stdout)
	writeRetrainComparison(a.stdout, final)
	fmt.Fprintf(a.stdout, "\nDetails: alur runs show %s\n", final.GetId())
	return runOutcome(final)
}

// writeRetrainComparison prints the old and new runs' test scores side by
// side.
func writeRetrainComparison(w io.Writer, run *orchestratorv1.Run) {
	rt := run.GetRetrain()
	metric := rt.GetPreviousMetric()
	if metric == "" {
		metric = runMetric(run)
	}
	old := "-"
	if rt.PreviousTestScore != nil {
		old = fmtScore(rt.GetPreviousTestScore())
	}
	cur := "-"
	if v, ok := metricValue(run.GetTestMetrics(), metric); ok {
		cur = fmtScore(v)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "RUN\tDATASET\tVERSION\tTEST "+strings.ToUpper(metric))
	fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", rt.GetRunId(), rt.GetDataset(), rt.GetFromVersion(), old)
	fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", run.GetId(), rt.GetDataset(), rt.GetToVersion(), cur)
	tw.Flush()
}

func driftWord(l orchestratorv1.DriftLevel) string {
	if l == orchestratorv1.DriftLevel_DRIFT_LEVEL_UNSPECIFIED {
		return "-"
	}
	return enumWord(l.String(), "DRIFT_LEVEL_")
}

func writeDatasetList(w io.Writer, ds []*orchestratorv1.Dataset) {
	if len(ds) == 0 {
		fmt.Fprintln(w, "No datasets yet. Make one with `alur datasets append NAME --csv FILE`.")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tVERSION\tROWS\tCOLUMNS\tUPDATED\tDRIFT")
	for _, d := range ds {
		var v *orchestratorv1.DatasetVersion
		if vs := d.GetVersions(); len(vs) > 0 {
			v = vs[0]
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", d.GetName(), d.GetLatestVersion(), display.Count(v.GetRows()),
			len(v.GetSchema().GetFields()), fmtTime(v.GetCreateTime()), driftWord(v.GetDrift().GetLevel()))
	}
	tw.Flush()
}

func writeDatasetDetails(w io.Writer, d *orchestratorv1.Dataset) {
	fmt.Fprintf(w, "Dataset %s: %s, created %s\n\n", d.GetName(), display.Plural(d.GetLatestVersion(), "version"), fmtTime(d.GetCreateTime()))
	tw := newTable(w)
	fmt.Fprintln(tw, "VERSION\tCREATED\tROWS\tADDED\tCOLUMNS\tDRIFT\tDIGEST\tSOURCE")
	for _, v := range d.GetVersions() {
		fmt.Fprintf(tw, "%d\t%s\t%s\t+%s\t%d\t%s\t%s\t%s\n", v.GetVersion(), fmtTime(v.GetCreateTime()), display.Count(v.GetRows()), display.Count(v.GetBatchRows()),
			len(v.GetSchema().GetFields()), driftWord(v.GetDrift().GetLevel()), shortDigest(v.GetTableDigest()), truncate(v.GetSource(), 40))
	}
	tw.Flush()
	if vs := d.GetVersions(); len(vs) > 0 && vs[0].GetDrift() != nil {
		fmt.Fprintf(w, "\nDrift stored with version %d, measured when its batch was appended:\n", vs[0].GetVersion())
		writeDriftReport(w, vs[0].GetDrift())
	}
}

// writeDriftReport renders a drift report: the summary, the schema
// changes, then one line per column. The heading and the PSI column say
// which comparison the numbers are of: the rows appended in the version
// (what append and datasets show report) or the whole version (what
// datasets diff reports by default), since the two give different PSIs.
func writeDriftReport(w io.Writer, r *orchestratorv1.DriftReport) {
	from := fmt.Sprintf("v%d", r.GetFromVersion())
	side, what, other := fmt.Sprintf("V%d", r.GetToVersion()),
		fmt.Sprintf("whole version %d (%s)", r.GetToVersion(), display.Plural(r.GetComparedRows(), "row")),
		"--appended compares only the rows added after version "+strconv.FormatInt(r.GetFromVersion(), 10)
	if r.GetAppendedOnly() {
		side = "NEW ROWS"
		what = fmt.Sprintf("the %s appended up to version %d", display.Plural(r.GetComparedRows(), "row"), r.GetToVersion())
		other = fmt.Sprintf("alur datasets diff NAME %d %d compares the whole of version %d", r.GetFromVersion(), r.GetToVersion(), r.GetToVersion())
	}
	fmt.Fprintf(w, "Drift of %s against version %d (%s): %s\n", what, r.GetFromVersion(), display.Plural(r.GetFromRows(), "row"), driftWord(r.GetLevel()))
	fmt.Fprintf(w, "(%s.)\n", other)
	fmt.Fprintln(w, r.GetSummary())
	fmt.Fprintln(w, "PSI: below 0.1 stable, 0.1 to 0.25 moderate, above 0.25 major; a PSI within NOISE (what chance gives 5% of the time on these row counts) is stable.")
	if len(r.GetAddedColumns()) > 0 {
		fmt.Fprintf(w, "New columns: %s\n", strings.Join(r.GetAddedColumns(), ", "))
	}
	if len(r.GetRemovedColumns()) > 0 {
		fmt.Fprintf(w, "Missing columns: %s\n", strings.Join(r.GetRemovedColumns(), ", "))
	}
	for _, c := range r.GetRetypedColumns() {
		fmt.Fprintf(w, "Retyped: %s %s → %s\n", c.GetName(), enumWord(c.GetFromType().String(), "COLUMN_TYPE_"), enumWord(c.GetToType().String(), "COLUMN_TYPE_"))
	}
	if len(r.GetColumns()) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := newTable(w)
	cmp := side + " VS " + strings.ToUpper(from)
	fmt.Fprintf(tw, "COLUMN\tTYPE\tPSI (%s)\tNOISE\tLEVEL\tKS\tP-VALUE\tMEAN (%s → %s)\tMISSING\tCATEGORIES\n", cmp, strings.ToUpper(from), side)
	for _, c := range r.GetColumns() {
		ks, p, mean := "-", "-", "-"
		if c.GetType().String() == "COLUMN_TYPE_NUMERIC" {
			ks, p = fmtScore(c.GetKsStatistic()), fmtP(c.GetKsPValue())
			mean = fmt.Sprintf("%.4g → %.4g", c.GetMeanFrom(), c.GetMeanTo())
		}
		cats := "-"
		var parts []string
		if n := c.GetNewCategories(); len(n) > 0 {
			parts = append(parts, "new "+truncate(strings.Join(n, ","), 30))
		}
		if v := c.GetVanishedCategories(); len(v) > 0 {
			parts = append(parts, "gone "+truncate(strings.Join(v, ","), 30))
		}
		if len(parts) > 0 {
			cats = strings.Join(parts, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.GetName(), enumWord(c.GetType().String(), "COLUMN_TYPE_"),
			fmtScore(c.GetPsi()), fmtScore(c.GetPsiNoiseFloor()), driftWord(c.GetLevel()), ks, p, mean,
			fmt.Sprintf("%.1f%% → %.1f%%", 100*c.GetMissingRateFrom(), 100*c.GetMissingRateTo()), cats)
	}
	tw.Flush()
}

// fmtP formats a p-value: four decimals, or scientific notation when tiny.
func fmtP(p float64) string {
	if math.IsNaN(p) {
		return "-"
	}
	if p != 0 && p < 1e-4 {
		return strconv.FormatFloat(p, 'e', 1, 64)
	}
	return fmtScore(p)
}
