package prep

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/csvio"
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// messyTable reads the messy fixture: one planted problem per column (see
// ml/profile's TestMessyFixture).
func messyTable(t *testing.T) *table.Table {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "ml", "profile", "testdata", "messy.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tb, err := csvio.Read(f, csvio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func profileCall(t *testing.T, c prepv1.PrepServiceClient, opts *prepv1.ProfileOptions, tb *table.Table) (*datav1.DataProfile, error) {
	t.Helper()
	stream, err := c.Profile(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Options{Options: opts}}); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	sendTable(t, tb, func(sc *datav1.Schema, b *datav1.TableBatch) error {
		if sc != nil {
			return stream.Send(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Schema{Schema: sc}})
		}
		return stream.Send(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Batch{Batch: b}})
	})
	resp, err := stream.CloseAndRecv()
	return resp.GetProfile(), err
}

// TestProfileFindingsOverTheWire: the profile's findings carry their fixes
// and the correlation matrix arrives with it.
func TestProfileFindingsOverTheWire(t *testing.T) {
	c := client(t, Config{})
	p, err := profileCall(t, c, &prepv1.ProfileOptions{Label: "churned"}, messyTable(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.GetFindings()[0].GetSeverity() != datav1.Severity_SEVERITY_ERROR || p.GetFindings()[0].GetCode() != "label_leakage" {
		t.Errorf("first finding %v, want a label leak", p.GetFindings()[0])
	}
	var fixes []string
	for _, f := range p.GetFindings() {
		fixes = append(fixes, f.GetFix().GetParseNumeric()...)
		fixes = append(fixes, f.GetFix().GetGroupRare()...)
	}
	if !slices.Contains(fixes, "age") || !slices.Contains(fixes, "city") {
		t.Errorf("fixes %v lack parse_numeric age and group_rare city", fixes)
	}
	m := p.GetCorrelation()
	n := len(m.GetColumns())
	if n < 2 || len(m.GetValues()) != n*n || m.GetRows() != 400 {
		t.Fatalf("matrix %d columns, %d values, %d rows", n, len(m.GetValues()), m.GetRows())
	}
	i, j := slices.Index(m.GetColumns(), "height_cm"), slices.Index(m.GetColumns(), "height_in")
	if i < 0 || j < 0 || math.Abs(m.GetValues()[i*n+j]-1) > 1e-4 {
		t.Errorf("r(height_cm, height_in) missing or not 1")
	}
}

// cleaningOptions apply the profile's fixes to the messy table.
func cleaningOptions() *prepv1.PrepareOptions {
	return &prepv1.PrepareOptions{
		Label: "churned", Seed: 7,
		Cleaning: &datav1.CleaningOptions{
			ParseNumeric: []string{"age"},
			ClipOutliers: []string{"height_cm"},
			LogTransform: []string{"income"},
			GroupRare:    []string{"city"},
			DropColumns:  []string{"refund_issued", "days_since_cancel", "height_in", "city_code", "customer_id"},
			Impute: []*datav1.ImputeRule{
				{Column: "lab_c", Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT, Value: "-1"},
				{Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_MEAN},
			},
			RareMinFrequency: 0.02,
		},
	}
}

// TestPrepareWithCleaning: Prepare honours every cleaning option, and Apply
// replays the fitted transform on raw rows exactly as the library does.
func TestPrepareWithCleaning(t *testing.T) {
	c := client(t, Config{})
	tb := messyTable(t)
	res, err := prepare(t, c, []*prepv1.PrepareRequest{optionsMsg(cleaningOptions())}, tb)
	if err != nil {
		t.Fatal(err)
	}
	tr := res.transform
	byName := map[string]*datav1.ColumnTransform{}
	for _, ct := range tr.GetColumns() {
		byName[ct.GetName()] = ct
	}
	if ct := byName["age"]; !ct.GetParseNumeric() || ct.GetAction() != datav1.ColumnAction_COLUMN_ACTION_NUMERIC || ct.GetImputeStrategy() != datav1.ImputeStrategy_IMPUTE_STRATEGY_MEAN {
		t.Errorf("age %v", ct)
	}
	if ct := byName["height_cm"]; !ct.GetClipped() || ct.GetClipHigh() > 250 || ct.GetClipLow() < 100 {
		t.Errorf("height_cm clip [%v, %v]", ct.GetClipLow(), ct.GetClipHigh())
	}
	if ct := byName["income"]; !ct.GetLog1P() {
		t.Errorf("income %v", ct)
	}
	if ct := byName["city"]; ct.GetRareLabel() != "other" || len(ct.GetCategories()) > 10 || !slices.Contains(ct.GetCategories(), "Berlin") {
		t.Errorf("city categories %v", ct.GetCategories())
	}
	if ct := byName["lab_c"]; ct.GetImputeNumber() != -1 {
		t.Errorf("lab_c imputes %v", ct.GetImputeNumber())
	}
	for _, d := range []string{"refund_issued", "days_since_cancel", "height_in", "city_code", "customer_id"} {
		if byName[d].GetAction() != datav1.ColumnAction_COLUMN_ACTION_DROP {
			t.Errorf("%s not dropped", d)
		}
	}
	// Apply over the wire equals the library on the same raw rows, which
	// include a new city, a word for an age and a far-out height.
	fresh := tb.Take([]int{0, 1, 2, 3, 17})
	got, err := apply(t, c, tr, fresh)
	if err != nil {
		t.Fatal(err)
	}
	want, err := dataprep.ApplyFeatures(tr, fresh)
	if err != nil {
		t.Fatal(err)
	}
	for j, name := range tr.GetFeatureNames() {
		col, _ := got.Column(name)
		if col == nil {
			t.Fatalf("no column %q", name)
		}
		if !slices.Equal(col.Nums, mat.Col(nil, j, want)) {
			t.Errorf("%s: %v, want %v", name, col.Nums, mat.Col(nil, j, want))
		}
	}
	// Row 17 holds the 999 cm height: clipped to the upper bound, then
	// scaled.
	hc := byName["height_cm"]
	col, _ := got.Column("height_cm")
	if w := (hc.GetClipHigh() - hc.GetMean()) / hc.GetScale(); math.Abs(col.Nums[4]-w) > 1e-12 {
		t.Errorf("clipped height %v, want %v", col.Nums[4], w)
	}
}

func TestPrepareCleaningBadInput(t *testing.T) {
	c := client(t, Config{})
	tb := messyTable(t)
	with := func(edit func(*datav1.CleaningOptions)) *prepv1.PrepareOptions {
		o := cleaningOptions()
		edit(o.Cleaning)
		return o
	}
	tests := []struct {
		name  string
		opts  *prepv1.PrepareOptions
		field string
	}{
		{"unknown column", with(func(c *datav1.CleaningOptions) { c.ClipOutliers = append(c.ClipOutliers, "weight") }), "options.cleaning.clip_outliers[1]"},
		{"categorical clip", with(func(c *datav1.CleaningOptions) { c.ClipOutliers = []string{"plan"} }), "options.cleaning.clip_outliers[0]"},
		{"bad quantiles", with(func(c *datav1.CleaningOptions) { c.ClipLowerQuantile, c.ClipUpperQuantile = 0.5, 0.5 }), "options.cleaning.clip_upper_quantile"},
		{"median of words", with(func(c *datav1.CleaningOptions) {
			c.Impute = []*datav1.ImputeRule{{Column: "plan", Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_MEDIAN}}
		}), "options.cleaning.impute[0].strategy"},
		{"group the label", with(func(c *datav1.CleaningOptions) { c.GroupRare = []string{"churned"} }), "options.cleaning.group_rare[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := prepare(t, c, []*prepv1.PrepareRequest{optionsMsg(tc.opts)}, tb)
			wantStatus(t, err, codes.InvalidArgument, tc.field)
		})
	}
	// Negative values under a log transform are only seen in the rows.
	// (Repeating values: a row counter would be dropped as id-like first.)
	delta := seqFrom(-10, 400)
	for i := range delta {
		delta[i] = float64(i%40 - 10)
	}
	neg := withColumn(messyTable(t), table.NewNumeric("delta", delta))
	o := cleaningOptions()
	o.Cleaning.LogTransform = append(o.Cleaning.LogTransform, "delta")
	_, err := prepare(t, c, []*prepv1.PrepareRequest{optionsMsg(o)}, neg)
	wantStatus(t, err, codes.InvalidArgument, "options.cleaning.log_transform[1]")
}

func seqFrom(start float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = start + float64(i)
	}
	return out
}

// TestCleaningOptionsFromJSON: a pipeline spec's prepare section is
// PrepareOptions decoded with protojson (YAML is turned into JSON first),
// so this is the shape users write: proto or JSON field names, enum names.
func TestCleaningOptionsFromJSON(t *testing.T) {
	const prepare = `{
	  "label": "churned",
	  "cleaning": {
	    "parse_numeric": ["age"],
	    "clipOutliers": ["height_cm"], "clip_iqr_k": 3,
	    "log_transform": ["income"],
	    "group_rare": ["city"], "rare_top_n": 5,
	    "drop_columns": ["refund_issued"],
	    "impute": [{"column": "lab_c", "strategy": "IMPUTE_STRATEGY_CONSTANT", "value": "-1"}, {"strategy": "IMPUTE_STRATEGY_MEAN"}]
	  }
	}`
	o := &prepv1.PrepareOptions{}
	if err := protojson.Unmarshal([]byte(prepare), o); err != nil {
		t.Fatal(err)
	}
	c := o.GetCleaning()
	if !slices.Equal(c.GetParseNumeric(), []string{"age"}) || c.GetClipIqrK() != 3 || c.GetRareTopN() != 5 || len(c.GetImpute()) != 2 ||
		c.GetImpute()[0].GetStrategy() != datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT {
		t.Fatalf("decoded %v", o)
	}
	if err := dataprep.ValidateOptions(o); err != nil {
		t.Fatal(err)
	}
	if err := dataprep.CheckSchema(messyTable(t).Schema(), o); err != nil {
		t.Fatal(err)
	}
}

// TestApplyEveryFix: the fixes of all the profile's findings merged into
// one CleaningOptions make a valid Prepare request, and the prepared
// features no longer contain the leaks, the copies or the identifier.
func TestApplyEveryFix(t *testing.T) {
	c := client(t, Config{})
	tb := messyTable(t)
	p, err := profileCall(t, c, &prepv1.ProfileOptions{Label: "churned"}, tb)
	if err != nil {
		t.Fatal(err)
	}
	merged := &datav1.CleaningOptions{}
	for _, f := range p.GetFindings() {
		if f.GetFix() != nil {
			proto.Merge(merged, f.GetFix())
		}
	}
	res, err := prepare(t, c, []*prepv1.PrepareRequest{optionsMsg(&prepv1.PrepareOptions{Label: "churned", Cleaning: merged})}, tb)
	if err != nil {
		t.Fatalf("merged fixes %v: %v", merged, err)
	}
	for _, gone := range []string{"refund_issued", "days_since_cancel", "customer_id", "source"} {
		for _, f := range res.transform.GetFeatureNames() {
			if f == gone || strings.HasPrefix(f, gone+"=") {
				t.Errorf("feature %q survived its fix", f)
			}
		}
	}
	if !slices.Contains(res.transform.GetFeatureNames(), "age") {
		t.Errorf("age was not parsed into a number feature: %v", res.transform.GetFeatureNames())
	}
}
