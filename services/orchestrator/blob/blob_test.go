package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"file://" + dir, true},
		{"file://" + filepath.Join(dir, "new"), true},
		{"file://elsewhere/x", false},
		{"file:relative", false},
		{"s4://bucket", false},
		{"s3://bucket", true},
		{"s3://bucket/some/prefix?endpoint=http://127.0.0.1:9000&region=eu-west-1", true},
		{"s3://bucket?endpoint=https://objects.example:8443", true},
		{"s3://bucket?credentials_file=/etc/alur/s3&profile=alur", true},
		{"s3:///prefix", false},
		{"s3://key:secret@bucket", false},
		{"s3://bucket?endpoint=ftp://host", false},
		{"s3://bucket?endpoint=http://host/path", false},
		{"s3://bucket?endpoint=127.0.0.1:9000", false},
		{"s3://bucket?access_key=x", false},
		{"::", false},
	} {
		_, err := Open(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("Open(%q) error %v, want ok %v", tc.url, err, tc.ok)
		}
	}
}

func TestDir(t *testing.T) {
	ctx := context.Background()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("some content")
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	for range 2 { // the same content twice keeps one copy
		got, n, err := d.Write(ctx, bytes.NewReader(content), 100)
		if err != nil || got != want || n != int64(len(content)) {
			t.Fatalf("Write = %s, %d, %v", got, n, err)
		}
	}
	rc, err := d.Open(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(back, content) {
		t.Fatal("content changed")
	}
	var listed []string
	if err := d.Walk(ctx, func(i Info) error { listed = append(listed, i.Digest); return nil }); err != nil || len(listed) != 1 {
		t.Fatalf("Walk = %v, %v", listed, err)
	}
	if _, _, err := d.Write(ctx, bytes.NewReader(content), 5); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Write over the limit: %v", err)
	}
	tmp, _ := os.ReadDir(filepath.Join(d.root, "tmp"))
	if len(tmp) != 0 {
		t.Fatalf("%d temporary files left", len(tmp))
	}
	for _, name := range []string{"../../etc/passwd", want[:10], "A" + want[1:]} {
		if _, err := d.Open(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", name, err)
		}
	}
	if err := d.Delete(ctx, want); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(ctx, want); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open after Delete: %v", err)
	}
}

func TestVolumeErr(t *testing.T) {
	for _, tc := range []struct {
		err         error
		unavailable bool
	}{
		{&os.PathError{Op: "open", Path: "/blobs/x", Err: syscall.ESTALE}, true},
		{&os.PathError{Op: "write", Path: "/blobs/x", Err: syscall.EIO}, true},
		{&os.PathError{Op: "open", Path: "/blobs/x", Err: syscall.ETIMEDOUT}, true},
		{&os.PathError{Op: "open", Path: "/blobs/x", Err: syscall.EACCES}, false},
		{&os.PathError{Op: "open", Path: "/blobs/x", Err: syscall.ENOSPC}, false},
		{ErrTooLarge, false},
		{context.Canceled, false},
	} {
		got := volumeErr(tc.err)
		if errors.Is(got, ErrUnavailable) != tc.unavailable || !errors.Is(got, tc.err) {
			t.Errorf("volumeErr(%v) = %v, want unavailable %v and the cause kept", tc.err, got, tc.unavailable)
		}
	}
}
