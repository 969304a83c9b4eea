package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/blob/s3test"
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
)

// TestStoreCopyS3 moves a bbolt file into a real etcd and an S3 bucket,
// then back into a new file, through the command line: the object holds
// the artifact's bytes under their digest, and both copies verify.
func TestStoreCopyS3(t *testing.T) {
	dir := t.TempDir()
	srcPath := filepath.Join(dir, "src.db")
	st, err := store.Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("weights in a bucket")
	a, err := st.PutArtifact(&orchestratorv1.Artifact{RunId: "r1", Name: "model"}, content)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutRun(&orchestratorv1.Run{Id: "r1", State: orchestratorv1.RunState_RUN_STATE_SUCCEEDED, CreateTime: timestamppb.Now(), ModelDigest: a.GetDigest()}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	etcd := etcdtest.Start(t)
	s3 := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "alur-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "alur-test-secret")
	mid := "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/copied-s3"
	blobs := s3.URL("copied")
	for _, args := range [][]string{
		{"store", "copy", "--from", "bbolt:" + srcPath, "--to", mid, "--to-blobs", blobs},
		{"store", "copy", "--from", mid, "--from-blobs", blobs, "--to", "bbolt:" + filepath.Join(dir, "back.db")},
	} {
		app, out, errb := newTestApp(nil)
		if code := runMain(context.Background(), args, app); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errb)
		}
		if !strings.Contains(out.String(), "copied 1 runs (0 events), 1 artifacts (19 bytes, 1 run links)") || !strings.Contains(out.String(), "verified") {
			t.Fatalf("%v: output %q", args, out)
		}
	}
	d := a.GetDigest()
	obj := s3.Get(t, "copied/sha256/"+d[:2]+"/"+d)
	sum := sha256.Sum256(obj)
	if got := hex.EncodeToString(sum[:]); got != d {
		t.Fatalf("the object under %s hashes to %s", d, got)
	}
}
