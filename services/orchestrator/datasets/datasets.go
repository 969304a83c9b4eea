package datasets

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alur-ml/alur/ml/drift"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/artifacts"
	"github.com/alur-ml/alur/services/orchestrator/fault"
	"github.com/alur-ml/alur/services/orchestrator/obs"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// maxCategoriesListed caps the new and vanished categories a drift report
// lists per column, so a high-cardinality column cannot bloat the
// version record.
const maxCategoriesListed = 50

// Versions records and reads dataset versions in the store.
type Versions struct {
	store  *store.Store
	logger *slog.Logger
	locks  locks // serialises appends per dataset
}

// New returns the dataset versions kept in st.
func New(st *store.Store, logger *slog.Logger) *Versions {
	return &Versions{store: st, logger: logger}
}

// locks serialises appends per dataset, so each append merges onto
// the version the previous one made. The store's version check backs it.
type locks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (d *locks) lock(name string) func() {
	d.mu.Lock()
	if d.locks == nil {
		d.locks = map[string]*sync.Mutex{}
	}
	m := d.locks[name]
	if m == nil {
		m = &sync.Mutex{}
		d.locks[name] = m
	}
	d.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// DescribeSource says where a batch came from, for people.
func DescribeSource(src *orchestratorv1.Source) string {
	switch {
	case src.GetBundled() != "":
		return "bundled " + src.GetBundled()
	case src.GetPath() != "":
		return "path " + src.GetPath()
	case src.GetUpload() != "":
		d := src.GetUpload()
		if len(d) > 12 {
			d = d[:12]
		}
		if n := src.GetCsv().GetName(); n != "" {
			return "upload " + n + " (" + d + ")"
		}
		return "upload " + d
	case src.GetUrl() != "":
		return "url " + src.GetUrl()
	}
	return ""
}

// Append records the dataset's next version: the previous version's rows
// followed by batch, which was collected from src with report. A batch that
// changes a column's type is refused (see appendRows); a concurrent append
// that made the version first is Aborted.
func (s *Versions) Append(name string, src *orchestratorv1.Source, batch *table.Table, report *ingestv1.IngestReport) (*orchestratorv1.DatasetVersion, error) {
	unlock := s.locks.lock(name)
	defer unlock()
	prev, err := s.store.DatasetVersion(name, 0)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	merged := batch
	var prevTable *table.Table
	var batches []string
	if prev != nil {
		if prevTable, err = s.readTable(prev.GetArtifactDigest()); err != nil {
			return nil, err
		}
		if merged, err = appendRows(prevTable, batch); err != nil {
			return nil, err
		}
		batches = prev.GetBatchDigests()
	}
	number := prev.GetVersion() + 1
	var inputs []string
	if u := src.GetUpload(); u != "" {
		inputs = append(inputs, u)
	}
	batchArt, err := s.putTable(artifacts.KindDatasetBatch, fmt.Sprintf("%s@%d batch", name, number), batch, inputs...)
	if err != nil {
		return nil, err
	}
	inputs = []string{batchArt}
	if prev != nil {
		inputs = append([]string{prev.GetArtifactDigest()}, inputs...)
	}
	tableArt, err := s.putVersionArtifact(name, number, merged, inputs...)
	if err != nil {
		return nil, err
	}
	v := &orchestratorv1.DatasetVersion{
		Version: number, CreateTime: timestamppb.Now(), Rows: int64(merged.NumRows()),
		TableDigest: tablepb.Digest(merged), ArtifactDigest: tableArt, Schema: merged.Schema(),
		BatchDigests: append(append([]string(nil), batches...), batchArt), BatchRows: int64(batch.NumRows()),
		Source: DescribeSource(src), IngestReport: report,
	}
	if prev != nil {
		v.Drift = driftReport(name, prev.GetVersion(), number, int64(merged.NumRows()), prevTable, appendedRows(merged, prevTable.NumRows()), true)
	}
	if err := s.store.PutDatasetVersion(name, v); err != nil {
		if errors.Is(err, store.ErrVersionConflict) {
			return nil, fault.New(codes.Aborted, "name: another append to %q made version %d first; try again", name, number)
		}
		return nil, err
	}
	s.logger.Info("dataset appended", "dataset", name, "version", number, "rows", v.GetRows(), "batch_rows", v.GetBatchRows())
	return v, nil
}

// Version reads one version (0 = latest), answering NotFound naming
// field when the dataset or the version does not exist.
func (s *Versions) Version(name string, version int64, field string) (*orchestratorv1.DatasetVersion, error) {
	v, err := s.store.DatasetVersion(name, version)
	if errors.Is(err, store.ErrNotFound) {
		if _, derr := s.store.DatasetVersion(name, 0); derr != nil {
			return nil, fault.New(codes.NotFound, "name: dataset %q not found", name)
		}
		return nil, fault.New(codes.NotFound, "%s: dataset %q has no version %d", field, name, version)
	}
	return v, err
}

// Compare reports the drift from version fromN (0: the one before toN)
// to version toN (0: the latest), over toN's whole table or, with
// appendedOnly, only the rows appended since fromN.
func (s *Versions) Compare(name string, fromN, toN int64, appendedOnly bool) (*orchestratorv1.DriftReport, error) {
	to, err := s.Version(name, toN, "to_version")
	if err != nil {
		return nil, err
	}
	if fromN == 0 {
		if fromN = to.GetVersion() - 1; fromN == 0 {
			return nil, fault.FailedPrecondition("from_version: dataset %q has no version before %d to compare with", name, to.GetVersion())
		}
	}
	if fromN >= to.GetVersion() {
		return nil, fault.Field("from_version", "%d is not older than to_version %d", fromN, to.GetVersion())
	}
	from, err := s.Version(name, fromN, "from_version")
	if err != nil {
		return nil, err
	}
	ft, err := s.readTable(from.GetArtifactDigest())
	if err != nil {
		return nil, err
	}
	tt, err := s.readTable(to.GetArtifactDigest())
	if err != nil {
		return nil, err
	}
	toRows := int64(tt.NumRows())
	if appendedOnly {
		tt = appendedRows(tt, ft.NumRows())
	}
	return driftReport(name, from.GetVersion(), to.GetVersion(), toRows, ft, tt, appendedOnly), nil
}

// readTable reads a table artifact the orchestrator stored itself.
func (s *Versions) readTable(digest string) (*table.Table, error) {
	b, err := s.store.ReadArtifact(digest)
	if err != nil {
		return nil, fault.DataLoss("read table artifact %s: %v", digest, err)
	}
	t, err := artifacts.DecodeTable(b)
	if err != nil {
		return nil, fault.DataLoss("decode table artifact %s: %v", digest, err)
	}
	return t, nil
}

// putTable stores a dataset table outside any run.
func (s *Versions) putTable(kind, name string, t *table.Table, inputs ...string) (string, error) {
	b, err := artifacts.EncodeTable(t)
	if err != nil {
		return "", fault.Internal("encode %s: %v", kind, err)
	}
	a, err := s.store.PutArtifact(&orchestratorv1.Artifact{Kind: kind, MediaType: artifacts.MediaTable, Name: name, Step: "append", InputDigests: inputs}, b)
	if err != nil {
		return "", fault.Internal("store %s artifact: %v", kind, err)
	}
	obs.ArtifactBytes.Add(float64(len(b)))
	return a.GetDigest(), nil
}

// putVersionArtifact stores a dataset version's table in parts, one per
// appended batch (tablepb.MarshalDelimitedParts), each cut into chunks on
// its own: the blocks of the batches a version shares with the one before
// serialize to the same chunks, which the store keeps once, so k appends
// take about k batches of space rather than k²/2. A version whose schema
// changed (a column added or widened) is stored whole.
func (s *Versions) putVersionArtifact(name string, number int64, merged *table.Table, inputs ...string) (string, error) {
	var bounds []int
	for v := int64(1); v < number; v++ {
		dv, err := s.store.DatasetVersion(name, v)
		if err != nil {
			return "", fault.Internal("read %s@%d: %v", name, v, err)
		}
		bounds = append(bounds, int(dv.GetRows()))
	}
	bounds = append(bounds, merged.NumRows())
	parts, err := tablepb.MarshalDelimitedParts(merged, bounds)
	if err != nil {
		return "", fault.Internal("encode %s: %v", artifacts.KindDataset, err)
	}
	a, err := s.store.PutArtifactParts(&orchestratorv1.Artifact{Kind: artifacts.KindDataset, MediaType: artifacts.MediaTable, Name: fmt.Sprintf("%s@%d", name, number), Step: "append", InputDigests: inputs}, parts)
	if err != nil {
		return "", fault.Internal("store %s artifact: %v", artifacts.KindDataset, err)
	}
	return a.GetDigest(), nil
}

// appendedRows returns the rows of a version after the first n, which are
// those appended since the version that had n rows.
func appendedRows(t *table.Table, n int) *table.Table {
	rows := make([]int, 0, max(t.NumRows()-n, 0))
	for i := n; i < t.NumRows(); i++ {
		rows = append(rows, i)
	}
	return t.Take(rows)
}

// appendRows returns old's rows followed by batch's, under the dataset's
// schema policy:
//
//   - a column only the batch has is added after old's columns, missing
//     in old's rows;
//   - a column the batch lacks is missing in the batch's rows;
//   - a column entirely missing on one side takes the other side's type;
//   - NUMERIC and BOOLEAN (both carried as numbers) widen to NUMERIC;
//   - a column that is categorical on one side and numeric or boolean on
//     the other is refused: coercing numbers to categories would silently
//     change what every model learns from the column. The error is
//     FailedPrecondition naming every such column; the fix is
//     csv.categorical_columns on the batch, or a new dataset;
//   - a column renamed (the batch has, at an old column's position and
//     with its type, a column of a new name, and lacks the old name) is
//     refused too: taken as a dropped and an added column it would split
//     one feature into two, each missing in half the rows.
func appendRows(old, batch *table.Table) (*table.Table, error) {
	oldRows, batchRows := old.NumRows(), batch.NumRows()
	out := &table.Table{}
	var conflicts []*errdetails.PreconditionFailure_Violation
	for i := range min(len(old.Columns), len(batch.Columns)) {
		oc, bc := old.Columns[i], batch.Columns[i]
		if oc.Name == bc.Name || oc.Type != bc.Type {
			continue
		}
		if c, _ := batch.Column(oc.Name); c != nil {
			continue
		}
		if c, _ := old.Column(bc.Name); c != nil {
			continue
		}
		conflicts = append(conflicts, &errdetails.PreconditionFailure_Violation{
			Type: "SCHEMA", Subject: oc.Name,
			Description: fmt.Sprintf("column %q (column %d) is called %q in the batch", oc.Name, i+1, bc.Name),
		})
	}
	if len(conflicts) > 0 {
		return nil, schemaConflict("the batch renames columns", conflicts,
			"rename them back in the batch, or start a new dataset")
	}
	for _, oc := range old.Columns {
		bc, _ := batch.Column(oc.Name)
		if bc == nil {
			bc = missingColumn(oc.Name, oc.Type, batchRows)
		}
		c, ok := concatColumn(oc, bc)
		if !ok {
			conflicts = append(conflicts, &errdetails.PreconditionFailure_Violation{
				Type: "SCHEMA", Subject: oc.Name,
				Description: fmt.Sprintf("column %q is %s in the dataset but %s in the batch", oc.Name, typeWord(oc.Type), typeWord(bc.Type)),
			})
			continue
		}
		out.Columns = append(out.Columns, c)
	}
	for _, bc := range batch.Columns {
		if c, _ := old.Column(bc.Name); c != nil {
			continue
		}
		c, _ := concatColumn(missingColumn(bc.Name, bc.Type, oldRows), bc)
		out.Columns = append(out.Columns, c)
	}
	if len(conflicts) > 0 {
		return nil, schemaConflict("the batch changes column types", conflicts,
			"numbers and categories do not mix; list the column in csv.categorical_columns, or start a new dataset")
	}
	return out, nil
}

// schemaConflict is the FailedPrecondition status of a batch whose schema
// cannot join the dataset's, naming every column at fault.
func schemaConflict(what string, conflicts []*errdetails.PreconditionFailure_Violation, fix string) error {
	names := make([]string, len(conflicts))
	for i, v := range conflicts {
		names[i] = v.GetDescription()
	}
	st := status.New(codes.FailedPrecondition, "source: "+what+": "+strings.Join(names, "; ")+" ("+fix+")")
	if d, err := st.WithDetails(&errdetails.PreconditionFailure{Violations: conflicts}); err == nil {
		st = d
	}
	return fault.FromStatus(st)
}

// missingColumn is a column of n missing values.
func missingColumn(name string, typ datav1.ColumnType, n int) *table.Column {
	c := &table.Column{Name: name, Type: typ}
	if c.IsCategorical() {
		c.Codes = make([]int32, n)
		for i := range c.Codes {
			c.Codes[i] = -1
		}
		return c
	}
	c.Nums = make([]float64, n)
	for i := range c.Nums {
		c.Nums[i] = math.NaN()
	}
	return c
}

func allMissing(c *table.Column) bool {
	for i := range c.Len() {
		if !c.IsMissing(i) {
			return false
		}
	}
	return true
}

// concatColumn appends b's values to a's under appendRows' type policy; ok
// is false when the types cannot be reconciled.
func concatColumn(a, b *table.Column) (*table.Column, bool) {
	switch {
	case a.Type == b.Type:
	case allMissing(b):
		b = missingColumn(b.Name, a.Type, b.Len())
	case allMissing(a):
		a = missingColumn(a.Name, b.Type, a.Len())
	case !a.IsCategorical() && !b.IsCategorical():
		// NUMERIC with BOOLEAN: both hold numbers; the union is NUMERIC.
		a = &table.Column{Name: a.Name, Type: datav1.ColumnType_COLUMN_TYPE_NUMERIC, Nums: a.Nums}
		b = &table.Column{Name: b.Name, Type: datav1.ColumnType_COLUMN_TYPE_NUMERIC, Nums: b.Nums}
	default:
		return nil, false
	}
	t, err := artifacts.ConcatTables(&table.Table{Columns: []*table.Column{a}}, &table.Table{Columns: []*table.Column{b}})
	if err != nil {
		return nil, false
	}
	return t.Columns[0], true
}

func typeWord(t datav1.ColumnType) string {
	switch t {
	case datav1.ColumnType_COLUMN_TYPE_NUMERIC:
		return "numeric"
	case datav1.ColumnType_COLUMN_TYPE_CATEGORICAL:
		return "categorical"
	case datav1.ColumnType_COLUMN_TYPE_BOOLEAN:
		return "boolean"
	}
	return t.String()
}

// driftReport compares the reference table from with the compared rows
// to (the whole of version toVersion, which has toRows rows, or only its
// appended rows) and renders the result as the proto report.
func driftReport(name string, fromVersion, toVersion, toRows int64, from, to *table.Table, appendedOnly bool) *orchestratorv1.DriftReport {
	rep := drift.Compare(from, to)
	out := &orchestratorv1.DriftReport{
		Dataset: name, FromVersion: fromVersion, ToVersion: toVersion, FromRows: int64(rep.FromRows), ToRows: toRows,
		AddedColumns: rep.Schema.Added, RemovedColumns: rep.Schema.Removed, Level: driftLevel(rep.Level),
		Summary: rep.Summary(), AppendedOnly: appendedOnly, ComparedRows: int64(rep.ToRows),
	}
	for _, r := range rep.Schema.Retyped {
		out.RetypedColumns = append(out.RetypedColumns, &orchestratorv1.RetypedColumn{Name: r.Name, FromType: r.From, ToType: r.To})
	}
	for _, c := range rep.Columns {
		out.Columns = append(out.Columns, &orchestratorv1.ColumnDrift{
			Name: c.Name, Type: c.Type, Psi: finite(c.PSI), PsiNoiseFloor: c.NoiseFloor, Level: driftLevel(c.Level),
			KsStatistic: finite(c.KS), KsPValue: finite(c.KSPValue),
			MissingRateFrom: c.MissingFrom, MissingRateTo: c.MissingTo,
			MeanFrom: finite(c.MeanFrom), MeanTo: finite(c.MeanTo),
			NewCategories: capList(c.New), VanishedCategories: capList(c.Vanished),
		})
	}
	return out
}

// finite maps NaN (not measured) to 0, which JSON can carry.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

func capList(s []string) []string {
	if len(s) > maxCategoriesListed {
		return s[:maxCategoriesListed]
	}
	return s
}

func driftLevel(l drift.Level) orchestratorv1.DriftLevel {
	switch l {
	case drift.Stable:
		return orchestratorv1.DriftLevel_DRIFT_LEVEL_STABLE
	case drift.Moderate:
		return orchestratorv1.DriftLevel_DRIFT_LEVEL_MODERATE
	case drift.Major:
		return orchestratorv1.DriftLevel_DRIFT_LEVEL_MAJOR
	}
	return orchestratorv1.DriftLevel_DRIFT_LEVEL_UNSPECIFIED
}
