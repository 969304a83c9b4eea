package ingest

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzOpenPath checks that no path, however crafted, opens a file outside
// the data root or panics.
func FuzzOpenPath(f *testing.F) {
	root := f.TempDir()
	outside := f.TempDir()
	const secret = "secret-outside-the-root"
	if err := os.WriteFile(filepath.Join(outside, "s.csv"), []byte(secret), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "ok.csv"), []byte("a\n1\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "out")); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "s.csv"), filepath.Join(root, "s.csv")); err != nil {
		f.Fatal(err)
	}
	rel, err := filepath.Rel(root, filepath.Join(outside, "s.csv"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"ok.csv", "out/s.csv", "s.csv", rel, "./ok.csv", "a/../ok.csv", "/" + rel, "..", "ok.csv/.."} {
		f.Add(p)
	}
	s := NewServer(Config{DataRoot: root})
	f.Fuzz(func(t *testing.T, p string) {
		file, err := s.open(p)
		if err != nil {
			return
		}
		defer file.Close()
		data, _ := io.ReadAll(io.LimitReader(file, 1<<10))
		if strings.Contains(string(data), secret) {
			t.Fatalf("path %q read a file outside the data root", p)
		}
	})
}
