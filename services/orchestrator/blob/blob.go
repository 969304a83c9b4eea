// Package blob keeps artifact content outside the metadata store, named by
// its sha256: a directory for one machine or a shared volume, selected by
// URL (file:///dir). Several orchestrators may write the same content at
// once: a write lands under a temporary name and is renamed into place, so
// a reader sees whole content or none. Readers check what they read
// against the name (package etcdstore does, chunk by chunk).
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotFound reports content the store does not hold.
var ErrNotFound = errors.New("blob not found")

// ErrTooLarge reports content over the limit a write was given.
var ErrTooLarge = errors.New("blob too large")

// Store keeps content named by the lowercase hex sha256 of its bytes.
type Store interface {
	// Write stores what r yields until EOF (at most limit bytes, else
	// ErrTooLarge) and returns its digest and size. Writing content that
	// is already stored keeps one copy.
	Write(ctx context.Context, r io.Reader, limit int64) (digest string, size int64, err error)
	// Open returns the content named digest, or an error matching
	// ErrNotFound. The bytes are as stored: the caller verifies them.
	Open(ctx context.Context, digest string) (io.ReadCloser, error)
	// Delete removes content; a missing digest is not an error.
	Delete(ctx context.Context, digest string) error
	// Walk calls fn with every stored digest and its size.
	Walk(ctx context.Context, fn func(digest string, size int64) error) error
	// Location is the store's URL, for logs.
	Location() string
}

// Open returns the store a URL names: file:///dir (created with mode
// 0700 if missing).
func Open(rawURL string) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blob store %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("blob store %q: a file URL names a local directory (file:///dir)", rawURL)
		}
		return NewDir(u.Path)
	default:
		return nil, fmt.Errorf("blob store %q: scheme %q is not supported (want file:///dir)", rawURL, u.Scheme)
	}
}

// Dir is a Store in a directory: content under sha256/<2 hex>/<digest>,
// writes in progress under tmp/.
type Dir struct {
	root string
}

// NewDir opens (creating) a directory store.
func NewDir(root string) (*Dir, error) {
	if root == "" || !filepath.IsAbs(root) {
		return nil, fmt.Errorf("blob directory %q: want an absolute path", root)
	}
	for _, d := range []string{"sha256", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("blob directory: %w", err)
		}
	}
	return &Dir{root: root}, nil
}

// Location is the directory's file URL.
func (d *Dir) Location() string { return (&url.URL{Scheme: "file", Path: d.root}).String() }

// path is where content digest lives; digest must be validated.
func (d *Dir) path(digest string) string {
	return filepath.Join(d.root, "sha256", digest[:2], digest)
}

// checkDigest refuses names that are not 64 lowercase hex characters, so
// no name escapes the directory.
func checkDigest(digest string) error {
	if len(digest) != 2*sha256.Size || strings.ToLower(digest) != digest {
		return fmt.Errorf("digest %q: want 64 lowercase hexadecimal characters: %w", digest, ErrNotFound)
	}
	if _, err := hex.DecodeString(digest); err != nil {
		return fmt.Errorf("digest %q: want 64 lowercase hexadecimal characters: %w", digest, ErrNotFound)
	}
	return nil
}

// Write copies r to a temporary file while hashing it, syncs it and
// renames it to its digest.
func (d *Dir) Write(ctx context.Context, r io.Reader, limit int64) (string, int64, error) {
	f, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "w-")
	if err != nil {
		return "", 0, fmt.Errorf("blob write: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if tmp != "" {
			_ = os.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), &ctxReader{ctx: ctx, r: io.LimitReader(r, limit+1)})
	if err == nil && n > limit {
		err = fmt.Errorf("content exceeds %d bytes: %w", limit, ErrTooLarge)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("blob write: %w", err)
	}
	digest := hex.EncodeToString(h.Sum(nil))
	final := d.path(digest)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return "", 0, fmt.Errorf("blob write: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", 0, fmt.Errorf("blob write: %w", err)
	}
	tmp = ""
	return digest, n, nil
}

// Open opens the content file.
func (d *Dir) Open(_ context.Context, digest string) (io.ReadCloser, error) {
	if err := checkDigest(digest); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", digest, err)
	}
	return f, nil
}

// Delete removes the content file.
func (d *Dir) Delete(_ context.Context, digest string) error {
	if err := checkDigest(digest); err != nil {
		return nil
	}
	if err := os.Remove(d.path(digest)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", digest, err)
	}
	return nil
}

// Walk lists the content files.
func (d *Dir) Walk(ctx context.Context, fn func(digest string, size int64) error) error {
	return filepath.WalkDir(filepath.Join(d.root, "sha256"), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if e.IsDir() || checkDigest(e.Name()) != nil {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		return fn(e.Name(), info.Size())
	})
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
