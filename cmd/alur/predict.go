package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

const predictUsage = `
Usage:
  alur predict --run ID --csv FILE [--json]
  alur predict --run ID --row 'col=val,col=val' [--row ...] [--json]

Predicts rows with the best model of a succeeded run, applying the run's
fitted preparation first, and prints one line per row: the class and its
probability (classification) or the value (regression).

--csv reads a CSV file whose first row names the columns. --row gives one
row as col=val pairs separated by commas; quote a pair that holds a comma
('sepal_length=5.1,"note=a,b"'). Every column the model reads must be
given: a column left out is refused, naming it, unless --allow-missing,
which fills it in as the run's preparation does (by default the training
median or most frequent value) and says so. A column the run's data does
not have is refused, listing the valid ones. The label column may be left
out. --json prints the PredictResponse.
`

// maxPredictBatch bounds the encoded rows of one Predict call, so that
// requests (and their answers) stay far below gRPC's message limits; larger
// inputs are sent in several calls.
const maxPredictBatch = 512 << 10

// rowFlags collects repeated --row values.
type rowFlags []string

func (r *rowFlags) String() string     { return strings.Join(*r, " ") }
func (r *rowFlags) Set(s string) error { *r = append(*r, s); return nil }

func runPredict(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs, a.getenv)
	var (
		runID        string
		csvPath      string
		rows         rowFlags
		asJSON       bool
		allowMissing bool
	)
	fs.StringVar(&runID, "run", "", "`ID` of a succeeded run")
	fs.StringVar(&csvPath, "csv", "", "CSV `file` of rows to predict (header row first)")
	fs.Var(&rows, "row", "one row as `col=val,col=val` (repeatable)")
	fs.BoolVar(&asJSON, "json", false, "print the PredictResponse as JSON")
	fs.BoolVar(&allowMissing, "allow-missing", false, "impute columns the rows leave out, as in training, instead of refusing them")
	rest, err := parseFlags(a, fs, predictUsage, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return usageErrorf("predict", "unexpected argument %q", rest[0])
	case runID == "":
		return usageErrorf("predict", "--run is required")
	case csvPath != "" && len(rows) > 0:
		return usageErrorf("predict", "give either --csv or --row, not both")
	case csvPath == "" && len(rows) == 0:
		return usageErrorf("predict", "give --csv FILE or at least one --row")
	}
	if err := cf.validate("predict"); err != nil {
		return err
	}
	var raw *datav1.RawRows
	if csvPath != "" {
		f, err := os.Open(csvPath)
		if err != nil {
			return err
		}
		raw, err = readCSVRows(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", csvPath, err)
		}
	} else if raw, err = parseKeyValueRows(rows); err != nil {
		return usageErrorf("predict", "%v", err)
	}
	if len(raw.GetRows()) == 0 {
		return fmt.Errorf("no rows to predict")
	}

	c, err := cf.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	in, known, err := c.readModelInputs(ctx, runID)
	if err != nil {
		return err
	}
	if known {
		flagName := "--row"
		if csvPath != "" {
			flagName = "--csv " + csvPath
		}
		note, err := checkRows(in, raw, flagName, allowMissing)
		if err != nil {
			return usageErrorf("predict", "%v", err)
		}
		if note != "" {
			fmt.Fprintln(a.stderr, note)
		}
	}
	resp, err := c.predict(ctx, runID, raw)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.stdout, resp)
	}
	writePredictions(a.stdout, resp)
	return nil
}

// predict sends raw in batches of at most maxPredictBatch encoded bytes
// and joins the answers in row order.
func (c *client) predict(ctx context.Context, runID string, raw *datav1.RawRows) (*orchestratorv1.PredictResponse, error) {
	out := &orchestratorv1.PredictResponse{}
	for _, batch := range splitRows(raw, maxPredictBatch) {
		cctx, cancel := c.callCtx(ctx)
		resp, err := c.orch.Predict(cctx, &orchestratorv1.PredictRequest{RunId: runID, Rows: batch})
		cancel()
		if err != nil {
			return nil, c.wrap("Predict", err)
		}
		if got, want := len(resp.GetPredictions()), len(batch.GetRows()); got != want {
			return nil, fmt.Errorf("predict: the server answered %d predictions for %d rows", got, want)
		}
		out.Predictions = append(out.Predictions, resp.GetPredictions()...)
		if out.ClassNames == nil {
			out.ClassNames = resp.GetClassNames()
		}
	}
	return out, nil
}

// splitRows cuts raw into batches whose rows encode to at most limit bytes
// each (a single larger row gets a batch of its own; the server judges it).
func splitRows(raw *datav1.RawRows, limit int) []*datav1.RawRows {
	var out []*datav1.RawRows
	cur := &datav1.RawRows{Columns: raw.GetColumns()}
	size := 0
	for _, r := range raw.GetRows() {
		n := proto.Size(r) + 8 // field tag and length prefix
		if len(cur.Rows) > 0 && size+n > limit {
			out = append(out, cur)
			cur = &datav1.RawRows{Columns: raw.GetColumns()}
			size = 0
		}
		cur.Rows = append(cur.Rows, r)
		size += n
	}
	if len(cur.Rows) > 0 {
		out = append(out, cur)
	}
	return out
}

// writePredictions prints one line per row: "label  p=0.9731" for
// classification (the predicted class and its probability), the value for
// regression.
func writePredictions(w io.Writer, resp *orchestratorv1.PredictResponse) {
	tw := newTable(w)
	for _, p := range resp.GetPredictions() {
		if len(resp.GetClassNames()) == 0 && p.GetLabel() == "" {
			fmt.Fprintf(tw, "%.6g\n", p.GetValue())
			continue
		}
		top := -1.0
		for _, v := range p.GetProbabilities() {
			top = max(top, v)
		}
		if top < 0 {
			fmt.Fprintf(tw, "%s\n", p.GetLabel())
			continue
		}
		fmt.Fprintf(tw, "%s\tp=%s\n", p.GetLabel(), fmtScore(top))
	}
	tw.Flush()
}

// readCSVRows reads rows to predict from CSV with a header row. Every row
// must have as many fields as the header.
func readCSVRows(r io.Reader) (*datav1.RawRows, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: want a header row naming the columns")
	}
	if err != nil {
		return nil, err
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff") // byte-order mark
	if err := checkColumns(header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	raw := &datav1.RawRows{Columns: header}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return raw, nil
		}
		if err != nil {
			return nil, err
		}
		raw.Rows = append(raw.Rows, &datav1.RawRow{Values: rec})
	}
}

// checkColumns rejects empty and repeated column names.
func checkColumns(cols []string) error {
	seen := make(map[string]bool, len(cols))
	for i, c := range cols {
		if strings.TrimSpace(c) == "" {
			return fmt.Errorf("column %d has no name", i+1)
		}
		if seen[c] {
			return fmt.Errorf("column %q appears twice", c)
		}
		seen[c] = true
	}
	return nil
}

// parseKeyValueRows turns --row values ("col=val,col=val") into raw rows.
// The columns are the union of the keys in order of first appearance; a row
// without a column leaves it empty, which the server reads as missing.
// Pairs are split as CSV fields, so a pair holding a comma is quoted whole.
func parseKeyValueRows(specs []string) (*datav1.RawRows, error) {
	index := map[string]int{}
	var columns []string
	var rows []map[int]string
	for i, s := range specs {
		pairs, err := parseKeyValueRow(s)
		if err != nil {
			return nil, fmt.Errorf("--row %d: %w", i+1, err)
		}
		row := make(map[int]string, len(pairs))
		for _, p := range pairs {
			j, ok := index[p.key]
			if !ok {
				j = len(columns)
				index[p.key] = j
				columns = append(columns, p.key)
			}
			row[j] = p.value
		}
		rows = append(rows, row)
	}
	raw := &datav1.RawRows{Columns: columns}
	for _, row := range rows {
		values := make([]string, len(columns))
		for j, v := range row {
			values[j] = v
		}
		raw.Rows = append(raw.Rows, &datav1.RawRow{Values: values})
	}
	return raw, nil
}

type keyValue struct{ key, value string }

// parseKeyValueRow parses one "col=val,col=val" row. Keys are trimmed of
// spaces and must be unique and non-empty; values are kept as written
// (the server trims and parses them) and split at the first '='.
func parseKeyValueRow(s string) ([]keyValue, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty row")
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("a row must be on one line")
	}
	cr := csv.NewReader(strings.NewReader(s))
	cr.TrimLeadingSpace = true
	fields, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	out := make([]keyValue, 0, len(fields))
	seen := map[string]bool{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok:
			return nil, fmt.Errorf("%q is not col=val", f)
		case k == "":
			return nil, fmt.Errorf("%q has no column name", f)
		case seen[k]:
			return nil, fmt.Errorf("column %q given twice", k)
		}
		seen[k] = true
		out = append(out, keyValue{key: k, value: v})
	}
	return out, nil
}
