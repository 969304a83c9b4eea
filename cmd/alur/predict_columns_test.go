package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// artifactFake is the scripted orchestrator that also serves artifacts.
type artifactFake struct {
	*fakeOrchestrator
	artifacts map[string][]byte
}

func (f *artifactFake) GetArtifact(req *orchestratorv1.GetArtifactRequest, stream grpc.ServerStreamingServer[orchestratorv1.GetArtifactResponse]) error {
	b, ok := f.artifacts[req.GetDigest()]
	if !ok {
		return status.Errorf(codes.NotFound, "artifact %q not found", req.GetDigest())
	}
	if err := stream.Send(&orchestratorv1.GetArtifactResponse{Part: &orchestratorv1.GetArtifactResponse_Artifact{
		Artifact: &orchestratorv1.Artifact{Digest: req.GetDigest(), Size: int64(len(b))}}}); err != nil {
		return err
	}
	return stream.Send(&orchestratorv1.GetArtifactResponse{Part: &orchestratorv1.GetArtifactResponse_Chunk{Chunk: b}})
}

// TestPredictChecksColumns: rows that leave out a column the model reads
// are refused by default, naming it; --allow-missing imputes and says so;
// an unknown column lists the valid ones.
func TestPredictChecksColumns(t *testing.T) {
	num := datav1.ColumnType_COLUMN_TYPE_NUMERIC
	tr := &datav1.FittedTransform{
		Label: "species",
		InputSchema: &datav1.Schema{Fields: []*datav1.Field{
			{Name: "x1", Type: num}, {Name: "x2", Type: num}, {Name: "id", Type: num}, {Name: "species", Type: datav1.ColumnType_COLUMN_TYPE_CATEGORICAL},
		}},
		Columns: []*datav1.ColumnTransform{
			{Name: "x1", Action: datav1.ColumnAction_COLUMN_ACTION_NUMERIC},
			{Name: "x2", Action: datav1.ColumnAction_COLUMN_ACTION_NUMERIC},
			{Name: "id", Action: datav1.ColumnAction_COLUMN_ACTION_DROP},
		},
	}
	b, err := proto.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])
	base := newFake()
	base.final.TransformDigest = digest
	f := &artifactFake{fakeOrchestrator: base, artifacts: map[string][]byte{digest: b}}
	addr := startFakeServer(t, f)

	dir := t.TempDir()
	csvPath := filepath.Join(dir, "rows.csv")
	if err := os.WriteFile(csvPath, []byte("x1\n1.5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		wantErr    string
		wantOut    string
		wantNoCall bool
	}{
		{name: "all columns", args: []string{"--row", "x1=1,x2=2"}, code: exitOK, wantOut: "no p=1.0000"},
		{name: "label and dropped columns may be left out or given", args: []string{"--row", "x1=1,x2=2,species=a"}, code: exitOK},
		{name: "a column left out is refused", args: []string{"--row", "x1=1"}, code: exitUsage,
			wantErr: "--row leaves out x2, which the model needs; give every column (x1, x2), or pass --allow-missing", wantNoCall: true},
		{name: "left out of one row of two", args: []string{"--row", "x1=1,x2=2", "--row", "x2=3"}, code: exitUsage,
			wantErr: "--row leaves out x1,", wantNoCall: true},
		{name: "allow missing imputes and says so", args: []string{"--row", "x1=1", "--allow-missing"}, code: exitOK,
			wantErr: "note: imputed x2 as the run's preparation does", wantOut: "no p=1.0000"},
		{name: "unknown column lists the valid ones", args: []string{"--row", "x1=1,x2=2,petal=3"}, code: exitUsage,
			wantErr: `--row: "petal" is not a column of the run's data; the columns are: x1, x2, id, species`, wantNoCall: true},
		{name: "csv header lacks a column", args: []string{"--csv", csvPath}, code: exitUsage,
			wantErr: "--csv " + csvPath + " leaves out x2", wantNoCall: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.mu.Lock()
			f.predictCalls = 0
			f.mu.Unlock()
			a, out, errb := newTestApp(map[string]string{serverEnv: addr})
			code := runMain(context.Background(), append([]string{"predict", "--run", "run-7"}, tc.args...), a)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errb)
			}
			if !strings.Contains(errb.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", errb, tc.wantErr)
			}
			if !strings.Contains(squeeze(out.String()), tc.wantOut) {
				t.Errorf("stdout %q lacks %q", out, tc.wantOut)
			}
			f.mu.Lock()
			calls := f.predictCalls
			f.mu.Unlock()
			if tc.wantNoCall && calls != 0 {
				t.Errorf("%d Predict calls for refused rows", calls)
			}
		})
	}
}
