// Package ingest is alur's data collection service: it reads CSV, JSON
// Lines and Parquet files, gzip-compressed or not, uploaded by a client,
// found under the server's data root, downloaded from an allowed URL, or
// bundled with alur, infers their schema (packages csvio and jsonl) and
// streams the table back as columnar batches (package tablepb) with
// bounded memory.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/csvio"
	"github.com/alur-ml/alur/ml/jsonl"
	"github.com/alur-ml/alur/ml/source"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	"github.com/alur-ml/alur/serverkit"
)

// DefaultMaxUploadBytes is the largest CSV file accepted when Config does
// not say.
const DefaultMaxUploadBytes = 1 << 30

// DefaultMaxGzipRatio is the expansion ratio past which gzip input is
// refused as a bomb: CSV and JSON Lines of real data compress 3 to 20
// times, deflate's ceiling is about 1032.
const DefaultMaxGzipRatio = 100

// DefaultMaxColumns is the widest table accepted when Config does not
// say: far above real tables, low enough that per-column bookkeeping
// stays small and that a default batch (tablepb.MaxStreamColumns) has
// room for rows.
const DefaultMaxColumns = 10_000

// Config configures a Server.
type Config struct {
	// DataRoot is the directory Read may serve files from. Empty disables
	// reading paths (Read answers FailedPrecondition).
	DataRoot string
	// MaxUploadBytes bounds the size of a file, uploaded, read or
	// downloaded, and its size after gzip decompression; 0 or less means
	// DefaultMaxUploadBytes.
	MaxUploadBytes int64
	// MaxGzipRatio bounds how many times a gzip file may expand (the
	// decompressed bytes over the compressed bytes read so far), checked
	// once the output passes GzipRatioGraceBytes; 0 means
	// DefaultMaxGzipRatio, negative turns the check off.
	MaxGzipRatio int64
	// MaxColumns bounds a table's columns; a wider file is refused with
	// RESOURCE_EXHAUSTED on max_columns (a CSV right after its header). 0
	// or less means DefaultMaxColumns.
	MaxColumns int
	// AllowURLHosts lists the hosts (or host:port) Read may download
	// from; empty turns URL sources off (PermissionDenied).
	AllowURLHosts []string
	// URLTimeout bounds one URL download; 0 or less means
	// DefaultURLTimeout.
	URLTimeout time.Duration
	// SpoolDir holds temporary files: uploads, downloads, decompressed
	// Parquet files and digest spills, each removed when its call ends.
	// Empty means the OS temp directory.
	SpoolDir string
	// BatchBytes is the target size of a TableBatch; 0 or less means
	// tablepb.DefaultBatchBytes, and it is capped at
	// tablepb.MaxBatchBytes.
	BatchBytes int
}

// Check reports a configuration the server cannot work with, such as a
// data root that is not a directory; binaries call it at startup.
func (c Config) Check() error {
	if m := tablepb.MaxStreamColumns(c.BatchBytes); c.MaxColumns > m {
		return fmt.Errorf("max columns %d: batches of this size carry at most %d columns", c.MaxColumns, m)
	}
	if c.SpoolDir != "" {
		fi, err := os.Stat(c.SpoolDir)
		if err != nil {
			return fmt.Errorf("spool dir: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("spool dir %s is not a directory", c.SpoolDir)
		}
	}
	if c.DataRoot == "" {
		return nil
	}
	fi, err := os.Stat(c.DataRoot)
	if err != nil {
		return fmt.Errorf("data root: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data root %s is not a directory", c.DataRoot)
	}
	return nil
}

// Server implements ingestv1.IngestServiceServer.
type Server struct {
	ingestv1.UnimplementedIngestServiceServer
	cfg     Config
	bundled []*bundled
	http    *http.Client
}

// NewServer returns a server. It parses the bundled datasets to count
// their rows; they are compiled in and tested, so a failure is a build
// defect and panics at startup rather than at a client.
func NewServer(cfg Config) *Server {
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if cfg.MaxColumns <= 0 {
		cfg.MaxColumns = DefaultMaxColumns
	}
	if cfg.MaxGzipRatio == 0 {
		cfg.MaxGzipRatio = DefaultMaxGzipRatio
	}
	if cfg.URLTimeout <= 0 {
		cfg.URLTimeout = DefaultURLTimeout
	}
	cfg.AllowURLHosts = ParseHostList(cfg.AllowURLHosts)
	sets, err := loadBundled()
	if err != nil {
		panic("ingest: " + err.Error())
	}
	s := &Server{cfg: cfg, bundled: sets}
	s.http = s.newHTTPClient()
	return s
}

// ListBundled lists the datasets that ship with alur.
func (s *Server) ListBundled(context.Context, *ingestv1.ListBundledRequest) (*ingestv1.ListBundledResponse, error) {
	resp := &ingestv1.ListBundledResponse{}
	for _, b := range s.bundled {
		resp.Datasets = append(resp.Datasets, b.proto())
	}
	return resp, nil
}

// Upload reads a file sent in chunks. The chunks are spooled to a
// temporary file in the spool directory (bounded by the size limit, and
// removed at the end) so the readers can make their two passes over it;
// the table then streams back block by block, never whole in memory.
func (s *Server) Upload(stream ingestv1.IngestService_UploadServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err == io.EOF {
		return serverkit.InvalidArgument("chunk", "empty file: the upload sent no data")
	}
	if err != nil {
		return serverkit.FromContext(err)
	}
	var o *ingestv1.CsvOptions
	var pending []byte
	switch p := first.GetPart().(type) {
	case *ingestv1.UploadRequest_Options:
		o = p.Options
	case *ingestv1.UploadRequest_Chunk:
		pending = p.Chunk
	default:
		return serverkit.InvalidArgument("part", "is empty: send options (first) or a chunk")
	}
	ro, err := parseOptions(o, s.cfg.MaxUploadBytes)
	if err != nil {
		return toStatus(err, "chunk")
	}
	f, err := os.CreateTemp(s.cfg.SpoolDir, "alur-upload-*")
	if err != nil {
		return serverkit.Errorf(codes.Internal, "spool file: %v", err)
	}
	defer removeSpool(f)
	var size int64
	write := func(b []byte) error {
		size += int64(len(b))
		if size > s.cfg.MaxUploadBytes {
			return serverkit.ResourceExhausted("max_upload_bytes", fmt.Sprintf("the file is larger than the server's limit of %d bytes", s.cfg.MaxUploadBytes))
		}
		if _, err := f.Write(b); err != nil {
			return serverkit.Errorf(codes.Internal, "spool file: %v", err)
		}
		return nil
	}
	if err := write(pending); err != nil {
		return err
	}
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return serverkit.FromContext(err)
		}
		switch p := msg.GetPart().(type) {
		case *ingestv1.UploadRequest_Chunk:
			if err := write(p.Chunk); err != nil {
				return err
			}
		case *ingestv1.UploadRequest_Options:
			reason := "must be the first message, before any chunk"
			if o != nil {
				reason = "was sent twice; send options once, as the first message"
			}
			return serverkit.InvalidArgument("options", reason)
		default:
			return serverkit.InvalidArgument("part", "is empty: send a chunk")
		}
	}
	if size == 0 {
		return serverkit.InvalidArgument("chunk", "empty file: the upload sent no data")
	}
	return serveTable(ctx, s, input{ra: f, size: size, field: "chunk"}, ro, o.GetName(),
		func(r *ingestv1.UploadResponse) error { return stream.Send(r) }, uploadParts)
}

// Read reads a file from the data root, an allowed URL or a bundled
// dataset, and streams the table block by block.
func (s *Server) Read(req *ingestv1.ReadRequest, stream ingestv1.IngestService_ReadServer) error {
	ctx := stream.Context()
	ro, err := parseOptions(req.GetOptions(), s.cfg.MaxUploadBytes)
	if err != nil {
		return toStatus(err, "")
	}
	name := req.GetOptions().GetName()
	var in input
	switch req.GetSource().(type) {
	case *ingestv1.ReadRequest_Path:
		f, err := s.open(req.GetPath())
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return serverkit.Errorf(codes.Internal, "stat %q: %v", req.GetPath(), err)
		}
		in = input{ra: f, size: fi.Size(), field: "path"}
		if name == "" {
			name = path.Base(filepath.ToSlash(req.GetPath()))
		}
	case *ingestv1.ReadRequest_Bundled:
		b := s.lookup(req.GetBundled())
		if b == nil {
			return serverkit.Errorf(codes.NotFound, "no bundled dataset %q; valid names: %s", req.GetBundled(), bundledNames(s.bundled))
		}
		in = input{ra: bytes.NewReader(b.data), size: int64(len(b.data)), field: "bundled"}
		if name == "" {
			name = b.name
		}
	case *ingestv1.ReadRequest_Url:
		f, n, err := s.fetchURL(ctx, req.GetUrl())
		if err != nil {
			return err
		}
		defer removeSpool(f)
		in = input{ra: f, size: n, field: "url"}
		if name == "" {
			name = urlName(req.GetUrl())
		}
	default:
		return serverkit.InvalidArgument("source", "is missing: set path, bundled or url")
	}
	return serveTable(ctx, s, in, ro, name,
		func(r *ingestv1.ReadResponse) error { return stream.Send(r) }, readParts)
}

// urlName is the last element of a URL's path, the default table name.
func urlName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if b := path.Base(u.Path); b != "." && b != "/" {
		return b
	}
	return u.Hostname()
}

// open opens a file under the data root. os.Root resolves the path inside
// the root directory, so neither "..", absolute paths nor symbolic links
// can reach a file outside it.
func (s *Server) open(p string) (*os.File, error) {
	if s.cfg.DataRoot == "" {
		return nil, serverkit.Errorf(codes.FailedPrecondition, "reading files by path is disabled: the server has no data root (start it with --data-root)")
	}
	switch {
	case p == "":
		return nil, serverkit.InvalidArgument("path", "is empty")
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`):
		return nil, serverkit.InvalidArgument("path", fmt.Sprintf("%q is absolute, so it leaves the data root; give a path relative to it", p))
	case !filepath.IsLocal(p):
		return nil, serverkit.InvalidArgument("path", fmt.Sprintf("%q leaves the data root", p))
	}
	root, err := os.OpenRoot(s.cfg.DataRoot)
	if err != nil {
		return nil, serverkit.Errorf(codes.FailedPrecondition, "the data root cannot be opened: %v", err)
	}
	defer root.Close()
	f, err := root.Open(p)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		return nil, serverkit.Errorf(codes.NotFound, "no file %q under the data root", p)
	case errors.Is(err, fs.ErrPermission):
		return nil, serverkit.Errorf(codes.PermissionDenied, "file %q under the data root is not readable", p)
	case strings.Contains(err.Error(), "escapes"):
		// os.Root refused to follow a symbolic link out of the root.
		return nil, serverkit.InvalidArgument("path", fmt.Sprintf("%q leaves the data root (through a symbolic link)", p))
	default:
		return nil, serverkit.InvalidArgument("path", fmt.Sprintf("%q cannot be opened inside the data root: %v", p, unwrapPathError(err)))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, serverkit.Errorf(codes.Internal, "stat %q: %v", p, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, serverkit.InvalidArgument("path", fmt.Sprintf("%q is not a regular file", p))
	}
	if fi.Size() > s.cfg.MaxUploadBytes {
		f.Close()
		return nil, serverkit.ResourceExhausted("max_upload_bytes", fmt.Sprintf("%q has %d bytes; the server accepts files of at most %d", p, fi.Size(), s.cfg.MaxUploadBytes))
	}
	return f, nil
}

// unwrapPathError drops the operation and path os.PathError adds, which
// the message already names.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (s *Server) lookup(name string) *bundled {
	for _, b := range s.bundled {
		if b.name == name {
			return b
		}
	}
	return nil
}

// toStatus maps library errors to gRPC statuses. field names the request
// field holding the file's bytes ("chunk", "path", "url" or "bundled") for
// errors in the file's content, which name the line; option errors name
// "options.<field>".
func toStatus(err error, field string) error {
	var (
		pe  *csvio.ParseError
		je  *jsonl.ParseError
		qe  *parquetRowError
		fe  *tablepb.FieldError
		le  *tablepb.LimitError
		st  interface{ GRPCStatus() *status.Status }
		bad *badInputError
	)
	if field == "" {
		field = "source"
	}
	switch {
	case errors.As(err, &st):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return serverkit.FromContext(err)
	case errors.As(err, &fe):
		return serverkit.InvalidArgument("options."+fe.Field, fe.Reason)
	case errors.As(err, &le):
		if le.Limit == "max_bytes" {
			return serverkit.ResourceExhausted("max_upload_bytes", fmt.Sprintf("the file is larger than the server's limit of %d bytes%s", le.Max, detail(le.Detail)))
		}
		if le.Limit == "max_columns" {
			return serverkit.ResourceExhausted("max_columns", fmt.Sprintf("the table is wider than the server's limit of %d columns%s", le.Max, detail(le.Detail)))
		}
		if le.Limit == "max_gzip_ratio" {
			return serverkit.ResourceExhausted("max_gzip_ratio", fmt.Sprintf("the file expands more than %d times after gzip decompression, the server's limit%s", le.Max, detail(le.Detail)))
		}
		return serverkit.ResourceExhausted(le.Limit, le.Error())
	case errors.As(err, &pe):
		return serverkit.InvalidArgument(field, pe.Error())
	case errors.As(err, &je):
		return serverkit.InvalidArgument(field, je.Error())
	case errors.As(err, &qe):
		return serverkit.InvalidArgument(field, qe.Error())
	case errors.As(err, &bad):
		return serverkit.InvalidArgument(field, bad.reason)
	case errors.Is(err, csvio.ErrEmpty):
		return serverkit.InvalidArgument(field, "empty file: no header row")
	case errors.Is(err, jsonl.ErrEmpty):
		return serverkit.InvalidArgument(field, jsonl.ErrEmpty.Error())
	}
	return serverkit.Errorf(codes.Internal, "reading the file: %v", err)
}

// detail formats an optional detail as a clause.
func detail(d string) string {
	if d == "" {
		return ""
	}
	return " (" + d + ")"
}

// responseParts builds the kinds of response message of a table stream;
// Upload and Read answer with different message types of the same shape.
type responseParts[R any] struct {
	schema  func(*datav1.Schema) R
	batch   func(*datav1.TableBatch) R
	report  func(*ingestv1.IngestReport) R
	summary func(*datav1.TableSummary) R
}

var uploadParts = responseParts[*ingestv1.UploadResponse]{
	schema: func(s *datav1.Schema) *ingestv1.UploadResponse {
		return &ingestv1.UploadResponse{Part: &ingestv1.UploadResponse_Schema{Schema: s}}
	},
	batch: func(b *datav1.TableBatch) *ingestv1.UploadResponse {
		return &ingestv1.UploadResponse{Part: &ingestv1.UploadResponse_Batch{Batch: b}}
	},
	report: func(r *ingestv1.IngestReport) *ingestv1.UploadResponse {
		return &ingestv1.UploadResponse{Part: &ingestv1.UploadResponse_Report{Report: r}}
	},
	summary: func(s *datav1.TableSummary) *ingestv1.UploadResponse {
		return &ingestv1.UploadResponse{Part: &ingestv1.UploadResponse_Summary{Summary: s}}
	},
}

var readParts = responseParts[*ingestv1.ReadResponse]{
	schema: func(s *datav1.Schema) *ingestv1.ReadResponse {
		return &ingestv1.ReadResponse{Part: &ingestv1.ReadResponse_Schema{Schema: s}}
	},
	batch: func(b *datav1.TableBatch) *ingestv1.ReadResponse {
		return &ingestv1.ReadResponse{Part: &ingestv1.ReadResponse_Batch{Batch: b}}
	},
	report: func(r *ingestv1.IngestReport) *ingestv1.ReadResponse {
		return &ingestv1.ReadResponse{Part: &ingestv1.ReadResponse_Report{Report: r}}
	},
	summary: func(s *datav1.TableSummary) *ingestv1.ReadResponse {
		return &ingestv1.ReadResponse{Part: &ingestv1.ReadResponse_Summary{Summary: s}}
	},
}

// serveTable reads in and streams the table as it is read: the schema,
// then each block the reader emits as batches (tablepb.StreamEncoder),
// then the report and the summary, whose digest (tablepb.StreamDigest)
// equals tablepb.Digest of the whole table. Only one block is in memory
// at a time. A client that goes away cancels ctx, which stops the reader
// at its next read.
func serveTable[R any](ctx context.Context, s *Server, in input, ro readOptions, name string, send func(R) error, parts responseParts[R]) error {
	var (
		enc    *tablepb.StreamEncoder
		dig    *tablepb.StreamDigest
		schema *datav1.Schema
	)
	defer func() {
		if dig != nil {
			dig.Close()
		}
	}()
	sink := source.Sink{
		Schema: func(sc *datav1.Schema) error {
			if enc != nil {
				return errors.New("the reader sent two schemas")
			}
			if n := len(sc.GetFields()); n > s.cfg.MaxColumns {
				return &tablepb.LimitError{Limit: "max_columns", Max: int64(s.cfg.MaxColumns), Detail: fmt.Sprintf("the file has %d columns", n)}
			}
			var err error
			if enc, err = tablepb.NewStreamEncoder(sc, s.cfg.BatchBytes); err != nil {
				return fmt.Errorf("the reader made an invalid schema: %v", err)
			}
			if dig, err = tablepb.NewStreamDigest(sc, s.cfg.SpoolDir); err != nil {
				return fmt.Errorf("the reader made an invalid schema: %v", err)
			}
			schema = sc
			return send(parts.schema(sc))
		},
		Block: func(b *table.Table) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if enc == nil {
				return errors.New("the reader sent a block before the schema")
			}
			if err := dig.Add(b); err != nil {
				return err
			}
			return enc.Encode(b, func(batch *datav1.TableBatch) error { return send(parts.batch(batch)) })
		},
	}
	rep, err := s.readInput(ctx, in, ro, sink)
	if err != nil {
		return toStatus(err, in.field)
	}
	if enc == nil {
		return serverkit.Errorf(codes.Internal, "the reader produced no schema")
	}
	sum, err := dig.Sum()
	if err != nil {
		return serverkit.Errorf(codes.Internal, "table digest: %v", err)
	}
	if err := send(parts.report(rep)); err != nil {
		return toStatus(err, in.field)
	}
	if err := send(parts.summary(&datav1.TableSummary{
		RowCount: enc.Rows(),
		Digest:   sum,
		Schema:   schema,
		Name:     name,
	})); err != nil {
		return toStatus(err, in.field)
	}
	return nil
}

// ctxReader stops reading a file once the call's context is done, so an
// abandoned read of a large file ends early.
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
