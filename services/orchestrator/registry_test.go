package orchestrator_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// TestModelRegistry registers two runs' models, resolves references by
// name, version and alias, moves an alias and checks deletion is refused
// while an alias points at a version.
func TestModelRegistry(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	ctx := context.Background()

	var runs []string
	for _, algo := range []string{"logistic_regression", "decision_tree"} {
		start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: irisSpec(&orchestratorv1.Candidate{Algorithm: algo})})
		if err != nil {
			t.Fatal(err)
		}
		run := await(t, client, start.GetRun().GetId())
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Fatalf("run %s: %v %s", algo, run.GetState(), run.GetError())
		}
		runs = append(runs, run.GetId())
	}
	for i, id := range runs {
		resp, err := client.RegisterModel(ctx, &orchestratorv1.RegisterModelRequest{RunId: id, Name: "iris", CreatedBy: "ada", Description: "first try"})
		if err != nil {
			t.Fatalf("register %s: %v", id, err)
		}
		v := resp.GetVersion()
		if v.GetVersion() != int64(i+1) || v.GetRunId() != id || v.GetLabel() != "species" || v.GetTask() != datav1.Task_TASK_CLASSIFICATION || v.GetTestScore() == 0 {
			t.Fatalf("version %d: %v", i+1, v)
		}
		if n := len(v.GetInputSchema().GetFields()); n != 4 {
			t.Fatalf("input schema has %d fields, want iris's 4 features: %v", n, v.GetInputSchema())
		}
		if len(v.GetClassNames()) != 3 {
			t.Fatalf("class names %v", v.GetClassNames())
		}
	}
	if _, err := client.SetModelAlias(ctx, &orchestratorv1.SetModelAliasRequest{Name: "iris", Alias: "production", Version: 1, UpdatedBy: "bo"}); err != nil {
		t.Fatal(err)
	}

	refs := []struct {
		ref         string
		wantVersion int64
		wantCode    codes.Code
		wantInMsg   string
	}{
		{"iris", 2, codes.OK, ""},
		{"iris@latest", 2, codes.OK, ""},
		{"iris@1", 1, codes.OK, ""},
		{"iris@production", 1, codes.OK, ""},
		{"iris@staging", 0, codes.NotFound, "staging"},
		{"iris@7", 0, codes.NotFound, "version 7"},
		{"wine", 0, codes.NotFound, "wine"},
		{"Iris", 0, codes.InvalidArgument, "ref"},
		{"iris@", 0, codes.InvalidArgument, "ref"},
		{"iris@0", 0, codes.InvalidArgument, "ref"},
		{"", 0, codes.InvalidArgument, "ref"},
	}
	for _, tc := range refs {
		t.Run("get "+tc.ref, func(t *testing.T) {
			resp, err := client.GetModel(ctx, &orchestratorv1.GetModelRequest{Ref: tc.ref})
			if status.Code(err) != tc.wantCode {
				t.Fatalf("GetModel(%q): %v, want %v", tc.ref, err, tc.wantCode)
			}
			if err != nil {
				if !strings.Contains(status.Convert(err).Message(), tc.wantInMsg) {
					t.Fatalf("message %q does not name %q", status.Convert(err).Message(), tc.wantInMsg)
				}
				return
			}
			if resp.GetVersion().GetVersion() != tc.wantVersion {
				t.Fatalf("resolved to version %d, want %d", resp.GetVersion().GetVersion(), tc.wantVersion)
			}
		})
	}

	bad := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"register unknown run", func() error {
			_, err := client.RegisterModel(ctx, &orchestratorv1.RegisterModelRequest{RunId: "nope", Name: "iris"})
			return err
		}, codes.NotFound},
		{"register bad name", func() error {
			_, err := client.RegisterModel(ctx, &orchestratorv1.RegisterModelRequest{RunId: runs[0], Name: "Bad Name"})
			return err
		}, codes.InvalidArgument},
		{"alias latest", func() error {
			_, err := client.SetModelAlias(ctx, &orchestratorv1.SetModelAliasRequest{Name: "iris", Alias: "latest", Version: 1})
			return err
		}, codes.InvalidArgument},
		{"alias numeric", func() error {
			_, err := client.SetModelAlias(ctx, &orchestratorv1.SetModelAliasRequest{Name: "iris", Alias: "3", Version: 1})
			return err
		}, codes.InvalidArgument},
		{"alias missing version", func() error {
			_, err := client.SetModelAlias(ctx, &orchestratorv1.SetModelAliasRequest{Name: "iris", Alias: "staging", Version: 9})
			return err
		}, codes.NotFound},
		{"delete aliased", func() error {
			_, err := client.DeleteModelVersion(ctx, &orchestratorv1.DeleteModelVersionRequest{Name: "iris", Version: 1})
			return err
		}, codes.FailedPrecondition},
		{"delete version 0", func() error {
			_, err := client.DeleteModelVersion(ctx, &orchestratorv1.DeleteModelVersionRequest{Name: "iris"})
			return err
		}, codes.InvalidArgument},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); status.Code(err) != tc.want {
				t.Fatalf("%v, want %v", err, tc.want)
			}
		})
	}

	// Move the alias: version 1 becomes deletable.
	set, err := client.SetModelAlias(ctx, &orchestratorv1.SetModelAliasRequest{Name: "iris", Alias: "production", Version: 2, Reason: "tree wins"})
	if err != nil {
		t.Fatal(err)
	}
	if set.GetAlias().GetPreviousVersion() != 1 {
		t.Fatalf("previous version %d, want 1", set.GetAlias().GetPreviousVersion())
	}
	if _, err := client.DeleteModelVersion(ctx, &orchestratorv1.DeleteModelVersionRequest{Name: "iris", Version: 1}); err != nil {
		t.Fatalf("delete after the move: %v", err)
	}
	list, err := client.ListModels(ctx, &orchestratorv1.ListModelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetModels()) != 1 || list.GetModels()[0].GetVersions()[0].GetAliases()[0] != "production" {
		t.Fatalf("ListModels: %v", list.GetModels())
	}
}
