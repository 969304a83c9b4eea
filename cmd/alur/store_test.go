package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
)

// TestStoreCopy moves a bbolt file into a real etcd and a blob directory,
// then back into a new file, through the command line.
func TestStoreCopy(t *testing.T) {
	dir := t.TempDir()
	srcPath := filepath.Join(dir, "src.db")
	st, err := store.Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.PutArtifact(&orchestratorv1.Artifact{RunId: "r1", Name: "model"}, []byte("weights"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutRun(&orchestratorv1.Run{Id: "r1", State: orchestratorv1.RunState_RUN_STATE_SUCCEEDED, CreateTime: timestamppb.Now(), ModelDigest: a.GetDigest()}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendEvent("r1", &orchestratorv1.RunEvent{Message: "done"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	etcd := etcdtest.Start(t)
	mid := "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/copied"
	blobs := "file://" + filepath.Join(dir, "blobs")
	for _, args := range [][]string{
		{"store", "copy", "--from", "bbolt:" + srcPath, "--to", mid, "--to-blobs", blobs},
		{"store", "copy", "--from", mid, "--from-blobs", blobs, "--to", "bbolt:" + filepath.Join(dir, "back.db")},
	} {
		app, out, errb := newTestApp(nil)
		if code := runMain(context.Background(), args, app); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errb)
		}
		if !strings.Contains(out.String(), "copied 1 runs (1 events), 1 artifacts (7 bytes, 1 run links)") || !strings.Contains(out.String(), "verified") {
			t.Fatalf("%v: output %q", args, out)
		}
	}
}

func TestStoreCopyUsage(t *testing.T) {
	for _, args := range [][]string{
		{"store"},
		{"store", "move"},
		{"store", "copy", "--to", "bbolt:x"},
		{"store", "copy", "--from", "bbolt:x"},
		{"store", "copy", "--from", "bbolt:x", "--to", "bbolt:x"},
		{"store", "copy", "--from", "bbolt:x", "--to", "bbolt:y", "extra"},
	} {
		app, _, _ := newTestApp(nil)
		if code := runMain(context.Background(), args, app); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
