// Package blobtest is the conformance suite every blob.Store driver
// passes (a directory, an S3 bucket): content-addressed writes that are
// idempotent and bounded, verified reads that catch damage, deletes,
// listings with sizes and times, and the errors callers decide on.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/alur-ml/alur/services/orchestrator/blob"
)

// Harness is one driver under test.
type Harness struct {
	// Store is an empty store.
	Store blob.Store
	// Replace overwrites the stored content of digest with other bytes,
	// behind the store's back (a damaged disk, an object edited by hand).
	Replace func(t *testing.T, digest string, content []byte)
}

// Digest is the store name of content.
func Digest(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

// Run runs the suite; open returns a fresh, empty store for each case.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.UintN(256))
		}
		return b
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			content []byte
		}{
			{"empty", []byte{}},
			{"small", []byte("some content")},
			{"over the memory spool", random(9 << 20)},
			{"multipart", random(17 << 20)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t).Store
				want := Digest(tc.content)
				for range 2 { // the same content twice keeps one copy
					got, n, err := s.Write(ctx, bytes.NewReader(tc.content), 32<<20)
					if err != nil || got != want || n != int64(len(tc.content)) {
						t.Fatalf("Write = %s, %d, %v; want %s, %d", got, n, err, want, len(tc.content))
					}
				}
				back := read(t, s, want)
				if !bytes.Equal(back, tc.content) {
					t.Fatalf("read %d bytes back, wrote %d", len(back), len(tc.content))
				}
				infos := walk(t, s)
				if len(infos) != 1 || infos[0].Digest != want || infos[0].Size != int64(len(tc.content)) || infos[0].ModTime.IsZero() {
					t.Fatalf("Walk = %+v, want one blob %s of %d bytes with a time", infos, want, len(tc.content))
				}
			})
		}
	})

	t.Run("Limit", func(t *testing.T) {
		s := open(t).Store
		for _, tc := range []struct {
			size, limit int64
			tooLarge    bool
		}{
			{5, 5, false},
			{6, 5, true},
			{9 << 20, 9<<20 - 1, true}, // past the memory spool
		} {
			_, _, err := s.Write(ctx, bytes.NewReader(random(int(tc.size))), tc.limit)
			if errors.Is(err, blob.ErrTooLarge) != tc.tooLarge {
				t.Errorf("Write of %d bytes under limit %d: %v, want ErrTooLarge %v", tc.size, tc.limit, err, tc.tooLarge)
			}
		}
		if n := len(walk(t, s)); n != 1 {
			t.Fatalf("%d blobs stored, want only the one within its limit", n)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t).Store
		d := Digest([]byte("never written"))
		for _, name := range []string{d, "../../etc/passwd", d[:10], "A" + d[1:], ""} {
			if rc, err := s.Open(ctx, name); !errors.Is(err, blob.ErrNotFound) {
				if rc != nil {
					rc.Close()
				}
				t.Errorf("Open(%q) = %v, want ErrNotFound", name, err)
			}
		}
		if err := s.Delete(ctx, d); err != nil {
			t.Errorf("Delete of a missing blob: %v", err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t).Store
		keep, gone := []byte("keep"), []byte("gone")
		for _, c := range [][]byte{keep, gone} {
			if _, _, err := s.Write(ctx, bytes.NewReader(c), 100); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Delete(ctx, Digest(gone)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, Digest(gone)); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Open after Delete: %v", err)
		}
		if infos := walk(t, s); len(infos) != 1 || infos[0].Digest != Digest(keep) {
			t.Fatalf("Walk after Delete = %+v", infos)
		}
	})

	t.Run("Corrupt", func(t *testing.T) {
		h := open(t)
		content := []byte("the content as written")
		d, _, err := h.Store.Write(ctx, bytes.NewReader(content), 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name    string
			replace []byte
		}{
			{"flipped", append([]byte("The"), content[3:]...)},
			{"truncated", content[:5]},
			{"longer", append(bytes.Clone(content), '!')},
			{"empty", []byte{}},
		} {
			h.Replace(t, d, tc.replace)
			rc, err := h.Store.Open(ctx, d)
			if err != nil {
				t.Fatalf("%s: Open: %v", tc.name, err)
			}
			_, err = io.ReadAll(rc)
			rc.Close()
			if !errors.Is(err, blob.ErrCorrupt) {
				t.Errorf("%s: reading damaged content: %v, want ErrCorrupt", tc.name, err)
			}
		}
	})

	t.Run("ConcurrentWrites", func(t *testing.T) {
		s := open(t).Store
		content := random(64 << 10)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				d, _, err := s.Write(ctx, bytes.NewReader(content), 1<<20)
				if err == nil && d != Digest(content) {
					err = errors.New("wrong digest " + d)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(read(t, s, Digest(content)), content) {
			t.Fatal("content changed")
		}
		if n := len(walk(t, s)); n != 1 {
			t.Fatalf("%d blobs after concurrent writes of one content", n)
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		s := open(t).Store
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := s.Write(cctx, bytes.NewReader([]byte("late")), 100); !errors.Is(err, context.Canceled) {
			t.Fatalf("Write under a cancelled context: %v", err)
		}
		if n := len(walk(t, s)); n != 0 {
			t.Fatalf("%d blobs after a cancelled write", n)
		}
	})

	t.Run("Location", func(t *testing.T) {
		if open(t).Store.Location() == "" {
			t.Fatal("empty Location")
		}
	})
}

// read returns the content of digest, failing the test on any error.
func read(t *testing.T, s blob.Store, digest string) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// walk lists the store, failing the test on any error.
func walk(t *testing.T, s blob.Store) []blob.Info {
	t.Helper()
	var out []blob.Info
	if err := s.Walk(context.Background(), func(i blob.Info) error {
		out = append(out, i)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
