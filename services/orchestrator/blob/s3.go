package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is a Store in a bucket of an S3-compatible object store (AWS S3,
// MinIO, SeaweedFS, Ceph, ...), through the minio-go client: a small,
// S3-only client with no cloud SDK behind it. Keys are
// [prefix/]sha256/<2 hex>/<digest>, as in a Dir. A write hashes the
// content into a local spool first (memory, then a temporary file past
// memSpool bytes), because an object's key is its digest, and then puts
// the object in one request (multipart for large content) with a
// Content-MD5 the server checks.
type S3 struct {
	cli    *minio.Client
	bucket string
	prefix string // "" or ending in "/"
	loc    string
	// readIdle overrides ReadIdleTimeout (tests).
	readIdle time.Duration
}

// memSpool is how much of a write is held in memory before it spills to
// a temporary file.
const memSpool = 8 << 20

// s3Params are the query parameters an s3:// URL may carry.
var s3Params = map[string]bool{"endpoint": true, "region": true, "credentials_file": true, "profile": true}

// OpenS3 opens the bucket an s3:// URL names:
//
//	s3://bucket[/prefix]?endpoint=http://host:port&region=r&credentials_file=/path&profile=p
//
// endpoint is the server's URL (http or https; default AWS S3 over
// https), region its region (default us-east-1). Credentials come from
// the standard environment variables (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), else from a shared
// credentials file: credentials_file, else AWS_SHARED_CREDENTIALS_FILE,
// else ~/.aws/credentials, in profile (default AWS_PROFILE, else
// "default"). No instance-metadata endpoint is asked. Nothing is sent
// until the first call: an unreachable store fails calls, not the open.
func OpenS3(u *url.URL) (*S3, error) {
	where := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	if u.User != nil {
		return nil, fmt.Errorf("blob store %s: credentials do not belong in the URL: use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or credentials_file", where)
	}
	bucket := u.Host
	if bucket == "" {
		return nil, fmt.Errorf("blob store %s: want s3://bucket[/prefix]", where)
	}
	q := u.Query()
	for k := range q {
		if !s3Params[k] {
			return nil, fmt.Errorf("blob store %s: query parameter %q is not supported (want endpoint, region, credentials_file, profile)", where, k)
		}
	}
	host, secure := "s3.amazonaws.com", true
	if ep := q.Get("endpoint"); ep != "" {
		e, err := url.Parse(ep)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || strings.Trim(e.Path, "/") != "" || e.RawQuery != "" {
			return nil, fmt.Errorf("blob store %s: endpoint %q: want http://host:port or https://host[:port]", where, ep)
		}
		host, secure = e.Host, e.Scheme == "https"
	}
	region := q.Get("region")
	if region == "" {
		region = "us-east-1"
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{Filename: q.Get("credentials_file"), Profile: q.Get("profile")},
	})
	cli, err := minio.New(host, &minio.Options{
		Creds: creds, Secure: secure, Region: region, BucketLookup: minio.BucketLookupAuto,
		// One attempt per call: the callers retry with their own
		// windows and say so (see ErrUnavailable).
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("blob store %s: %w", where, err)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	loc := url.URL{Scheme: "s3", Host: bucket, Path: "/" + prefix}
	lq := url.Values{"region": {region}}
	if q.Get("endpoint") != "" {
		lq.Set("endpoint", q.Get("endpoint"))
	}
	loc.RawQuery = lq.Encode()
	return &S3{cli: cli, bucket: bucket, prefix: prefix, loc: loc.String()}, nil
}

// Location is the bucket's URL without credentials.
func (s *S3) Location() string { return s.loc }

// key is the object key of content digest.
func (s *S3) key(digest string) string {
	return s.prefix + "sha256/" + digest[:2] + "/" + digest
}

// Write spools and hashes r, then puts the object named by its digest.
// Putting content that is already stored rewrites the same bytes and
// renews the object's modification time.
func (s *S3) Write(ctx context.Context, r io.Reader, limit int64) (string, int64, error) {
	sp, err := spool(ctx, r, limit)
	if err != nil {
		return "", 0, fmt.Errorf("blob write: %w", err)
	}
	defer sp.close()
	body, err := sp.reader()
	if err != nil {
		return "", 0, fmt.Errorf("blob write: %w", err)
	}
	// The Content-MD5 the server checks guards the bytes on the wire;
	// the signature then need not cover them (an unsigned payload, which
	// every server takes, also with no length, as for empty content).
	_, err = s.cli.PutObject(ctx, s.bucket, s.key(sp.digest), body, sp.size, minio.PutObjectOptions{
		ContentType: "application/octet-stream", SendContentMd5: true, DisableContentSha256: true,
	})
	if err != nil {
		return "", 0, s.mapErr(err, "write "+sp.digest)
	}
	return sp.digest, sp.size, nil
}

// Open gets the object behind a verifying reader. The context bounds the
// request until the server answers; the body is read under a context of
// its own, ended by Close.
func (s *S3) Open(ctx context.Context, digest string) (io.ReadCloser, error) {
	if err := checkDigest(digest); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	obj, err := s.cli.GetObject(rctx, s.bucket, s.key(digest), minio.GetObjectOptions{})
	if err == nil {
		// Stat waits for the server's answer, so a missing object is
		// reported here rather than at the first read.
		_, err = obj.Stat()
	}
	if !stop() {
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		if obj != nil {
			_ = obj.Close()
		}
		cancel()
		return nil, s.mapErr(err, digest)
	}
	idle := s.readIdle
	if idle <= 0 {
		idle = ReadIdleTimeout
	}
	return Verify(&s3Reader{obj: obj, cancel: cancel, s: s, digest: digest, idle: idle}, digest), nil
}

// ReadIdleTimeout bounds how long reading an object's body may wait for
// its next bytes. The body is read under a context no caller ends (see
// Open), so a connection that stays open without data, such as a server
// that stopped mid-answer behind a proxy that kept the connection, would
// otherwise hold the reader, and the step reading it, for good. Past it
// the request is aborted and the read fails with ErrUnavailable, which
// the callers retry.
const ReadIdleTimeout = 30 * time.Second

// s3Reader maps the errors of a body being read and aborts a read that
// waits longer than idle for data.
type s3Reader struct {
	obj      *minio.Object
	cancel   context.CancelFunc
	s        *S3
	digest   string
	idle     time.Duration
	timer    *time.Timer // armed during each Read
	timedOut atomic.Bool
}

func (r *s3Reader) Read(p []byte) (int, error) {
	if r.timer == nil {
		r.timer = time.AfterFunc(r.idle, func() {
			r.timedOut.Store(true)
			r.cancel()
		})
	} else {
		r.timer.Reset(r.idle)
	}
	n, err := r.obj.Read(p)
	r.timer.Stop()
	if err != nil && err != io.EOF {
		if r.timedOut.Load() {
			return n, fmt.Errorf("blob %s at %s: %w: no data for %s", r.digest, r.s.loc, ErrUnavailable, r.idle)
		}
		err = r.s.mapErr(err, r.digest)
	}
	return n, err
}

func (r *s3Reader) Close() error {
	err := r.obj.Close()
	r.cancel()
	return err
}

// Delete removes the object; a missing one is not an error.
func (s *S3) Delete(ctx context.Context, digest string) error {
	if err := checkDigest(digest); err != nil {
		return nil
	}
	err := s.cli.RemoveObject(ctx, s.bucket, s.key(digest), minio.RemoveObjectOptions{})
	if err = s.mapErr(err, "delete "+digest); errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Walk lists the objects under the prefix's sha256/, skipping keys that
// do not name content (another tool's objects).
func (s *S3) Walk(ctx context.Context, fn func(Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing when fn stops early
	for o := range s.cli.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "sha256/", Recursive: true}) {
		if o.Err != nil {
			return s.mapErr(o.Err, "list")
		}
		d := path.Base(o.Key)
		if checkDigest(d) != nil || o.Key != s.key(d) {
			continue
		}
		if err := fn(Info{Digest: d, Size: o.Size, ModTime: o.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// mapErr turns a client error into the package's: a missing object is
// ErrNotFound; no answer (refused, reset, timed out), a 5xx, 429 or a
// throttling code is ErrUnavailable; anything else (a missing bucket,
// denied access) is returned as the server said it.
func (s *S3) mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("blob %s: %w", what, err)
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		resp = minio.ToErrorResponse(err)
	}
	switch {
	case resp.Code == "NoSuchKey" || (resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket"):
		return fmt.Errorf("blob %s: %w", what, ErrNotFound)
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests,
		resp.Code == "SlowDown", resp.Code == "RequestTimeout", resp.StatusCode == 0:
		return fmt.Errorf("blob %s at %s: %w: %w", what, s.loc, ErrUnavailable, err)
	}
	return fmt.Errorf("blob %s at %s: %w", what, s.loc, err)
}

// spooled is content read from a writer's reader and hashed: in memory,
// or in a temporary file past memSpool bytes.
type spooled struct {
	mem    []byte
	f      *os.File
	size   int64
	digest string
}

// spool reads r until EOF (at most limit bytes, else ErrTooLarge) while
// hashing it.
func spool(ctx context.Context, r io.Reader, limit int64) (*spooled, error) {
	h := sha256.New()
	src := &ctxReader{ctx: ctx, r: io.LimitReader(r, limit+1)}
	var buf bytes.Buffer
	n, err := io.CopyN(io.MultiWriter(&buf, h), src, memSpool)
	sp := &spooled{}
	switch {
	case err == io.EOF:
		sp.mem = buf.Bytes()
	case err != nil:
		return nil, err
	default:
		f, err := os.CreateTemp("", "alur-blob-")
		if err != nil {
			return nil, err
		}
		sp.f = f
		_ = os.Remove(f.Name()) // unnamed: gone when closed, whatever happens
		if _, err := f.Write(buf.Bytes()); err != nil {
			sp.close()
			return nil, err
		}
		m, err := io.Copy(io.MultiWriter(f, h), src)
		if err != nil {
			sp.close()
			return nil, err
		}
		n += m
	}
	if n > limit {
		sp.close()
		return nil, fmt.Errorf("content exceeds %d bytes: %w", limit, ErrTooLarge)
	}
	sp.size, sp.digest = n, hex.EncodeToString(h.Sum(nil))
	return sp, nil
}

// reader returns the spooled content from its start.
func (s *spooled) reader() (io.Reader, error) {
	if s.f == nil {
		return bytes.NewReader(s.mem), nil
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return s.f, nil
}

func (s *spooled) close() {
	if s.f != nil {
		_ = s.f.Close()
	}
}
