// Package blob keeps artifact content outside the metadata store, named by
// its sha256 under sha256/<2 hex>/<digest>, in one of two drivers selected
// by URL: a directory for one machine or a shared volume (file:///dir), or
// an S3-compatible bucket (s3://bucket/prefix?endpoint=...), the same key
// layout in both so a directory can be synced into a bucket as it is.
// Several orchestrators may write the same content at once: a write is
// whole or absent (a directory renames a finished temporary file into
// place; a bucket stores an object in one request), and rewriting content
// already stored changes nothing but its modification time. Every Open
// returns a reader that checks the bytes against their name and fails
// with ErrCorrupt at the end when they differ; package etcdstore checks
// again against the artifact's size.
//
// Errors say what a caller should do: ErrNotFound and ErrCorrupt are for
// good (the content is missing or damaged), ErrUnavailable means the
// store could not be reached or answered with a server error, and the
// same call may succeed later.
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
	"syscall"
	"time"
)

// ErrNotFound reports content the store does not hold.
var ErrNotFound = errors.New("blob not found")

// ErrTooLarge reports content over the limit a write was given.
var ErrTooLarge = errors.New("blob too large")

// ErrCorrupt reports content that does not hash to its name.
var ErrCorrupt = errors.New("blob content does not match its digest")

// ErrUnavailable reports a store that could not be reached, or answered
// with a server error: retrying later may succeed.
var ErrUnavailable = errors.New("blob store unavailable")

// Info describes one stored blob.
type Info struct {
	// Digest is the lowercase hex sha256 of the content, its name.
	Digest string
	// Size is the content's length in bytes.
	Size int64
	// ModTime is when the content was last written: a write of content
	// already stored renews it, so a collector that spares young blobs
	// spares content a writer is about to reference.
	ModTime time.Time
}

// Store keeps content named by the lowercase hex sha256 of its bytes.
type Store interface {
	// Write stores what r yields until EOF (at most limit bytes, else
	// ErrTooLarge) and returns its digest and size. Writing content that
	// is already stored keeps one copy.
	Write(ctx context.Context, r io.Reader, limit int64) (digest string, size int64, err error)
	// Open returns the content named digest, or an error matching
	// ErrNotFound. The reader checks the bytes as they pass: at the end
	// of content that does not hash to digest it fails with ErrCorrupt
	// instead of io.EOF. The context bounds the open, not the reads.
	Open(ctx context.Context, digest string) (io.ReadCloser, error)
	// Delete removes content; a missing digest is not an error.
	Delete(ctx context.Context, digest string) error
	// Walk calls fn with every stored blob, stopping at fn's first error.
	Walk(ctx context.Context, fn func(Info) error) error
	// Location is the store's URL, for logs.
	Location() string
}

// Open returns the store a URL names: file:///dir (created with mode
// 0700 if missing), or s3://bucket[/prefix] with query parameters
// endpoint, region and credentials_file (see OpenS3).
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
	case "s3":
		return OpenS3(u)
	default:
		return nil, fmt.Errorf("blob store %q: scheme %q is not supported (want file:///dir or s3://bucket)", rawURL, u.Scheme)
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
		return "", 0, fmt.Errorf("blob write: %w", volumeErr(err))
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
		return "", 0, fmt.Errorf("blob write: %w", volumeErr(err))
	}
	digest := hex.EncodeToString(h.Sum(nil))
	final := d.path(digest)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return "", 0, fmt.Errorf("blob write: %w", volumeErr(err))
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", 0, fmt.Errorf("blob write: %w", volumeErr(err))
	}
	tmp = ""
	return digest, n, nil
}

// Open opens the content file behind a verifying reader.
func (d *Dir) Open(_ context.Context, digest string) (io.ReadCloser, error) {
	if err := checkDigest(digest); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", digest, volumeErr(err))
	}
	return Verify(f, digest), nil
}

// Delete removes the content file.
func (d *Dir) Delete(_ context.Context, digest string) error {
	if err := checkDigest(digest); err != nil {
		return nil
	}
	if err := os.Remove(d.path(digest)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", digest, volumeErr(err))
	}
	return nil
}

// Walk lists the content files.
func (d *Dir) Walk(ctx context.Context, fn func(Info) error) error {
	return volumeErr(d.walk(ctx, fn))
}

func (d *Dir) walk(ctx context.Context, fn func(Info) error) error {
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
		return fn(Info{Digest: e.Name(), Size: info.Size(), ModTime: info.ModTime()})
	})
}

// volumeErrnos are the errors of a shared volume that is away (an NFS
// server down or unreachable, a mount gone stale), not of content.
var volumeErrnos = []error{syscall.EIO, syscall.ESTALE, syscall.ENOTCONN, syscall.ETIMEDOUT, syscall.EHOSTDOWN, syscall.EHOSTUNREACH}

// volumeErr marks an error of a volume that is away as ErrUnavailable,
// as an object store that does not answer is.
func volumeErr(err error) error {
	for _, e := range volumeErrnos {
		if errors.Is(err, e) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return err
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
