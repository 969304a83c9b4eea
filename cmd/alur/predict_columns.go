package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
)

// modelInputs are the columns a run's model reads, from its fitted
// transform: known are every column of the data it was trained on (the
// label included, which a row may carry), needed those the model uses (not
// the label, not the columns preparation dropped).
type modelInputs struct {
	known, needed []string
}

// readModelInputs fetches the run and its fitted transform. ok is false
// when the server cannot tell (the run has no transform, or the server
// does not serve artifacts): then the server alone judges the rows.
func (c *client) readModelInputs(ctx context.Context, runID string) (in modelInputs, ok bool, err error) {
	cctx, cancel := c.callCtx(ctx)
	resp, err := c.orch.GetRun(cctx, &orchestratorv1.GetRunRequest{RunId: runID})
	cancel()
	if err != nil {
		return in, false, c.wrap("GetRun", err)
	}
	d := resp.GetRun().GetTransformDigest()
	if d == "" {
		return in, false, nil
	}
	b, err := dashboard.ClientSource(c.orch).ReadArtifact(ctx, d)
	if status.Code(err) == codes.Unimplemented {
		return in, false, nil
	}
	if err != nil {
		return in, false, c.wrap("GetArtifact", err)
	}
	tr := &datav1.FittedTransform{}
	if err := proto.Unmarshal(b, tr); err != nil {
		return in, false, fmt.Errorf("decode the run's fitted transform %s: %w", shortDigest(d), err)
	}
	dropped := map[string]bool{tr.GetLabel(): true}
	for _, col := range tr.GetColumns() {
		if col.GetAction() == datav1.ColumnAction_COLUMN_ACTION_DROP {
			dropped[col.GetName()] = true
		}
	}
	for _, f := range tr.GetInputSchema().GetFields() {
		in.known = append(in.known, f.GetName())
		if !dropped[f.GetName()] {
			in.needed = append(in.needed, f.GetName())
		}
	}
	return in, true, nil
}

// checkRows compares the rows to predict with the model's inputs. A
// column the model does not know is an error listing the valid ones. A
// column the model needs and the rows leave out — absent from the CSV
// header, or from a --row — is an error naming it, unless allowMissing:
// then the missing cells are imputed as in training, and the returned note
// says which were.
func checkRows(in modelInputs, raw *datav1.RawRows, flag string, allowMissing bool) (note string, err error) {
	rowFlag := flag == "--row"
	for _, col := range raw.GetColumns() {
		if !slices.Contains(in.known, col) {
			return "", fmt.Errorf("%s: %q is not a column of the run's data; the columns are: %s", flag, col, strings.Join(in.known, ", "))
		}
	}
	pos := map[string]int{}
	for i, col := range raw.GetColumns() {
		pos[col] = i
	}
	// A --row leaves a column out of one row by not naming it; the CSV
	// header leaves it out of all. Empty CSV cells are data, not omissions.
	var missing []string
	for _, col := range in.needed {
		i, ok := pos[col]
		gap := !ok
		for _, r := range raw.GetRows() {
			if gap || !rowFlag {
				break
			}
			gap = r.GetValues()[i] == ""
		}
		if gap {
			missing = append(missing, col)
		}
	}
	if len(missing) == 0 {
		return "", nil
	}
	list := strings.Join(missing, ", ")
	if !allowMissing {
		return "", fmt.Errorf("%s leaves out %s, which the model needs; give every column (%s), or pass --allow-missing to fill the gaps as the run's preparation does",
			flag, list, strings.Join(in.needed, ", "))
	}
	return fmt.Sprintf("note: imputed %s as the run's preparation does (by default the training median or most frequent value), as --allow-missing asks; the predictions are less certain than they look", list), nil
}
