// Package ingest is alur's data collection service: it reads CSV files
// uploaded by a client, found under the server's data root, or bundled with
// alur, infers their schema (package csvio) and streams the table back as
// columnar batches (package tablepb).
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/csvio"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	"github.com/alur-ml/alur/serverkit"
)

// DefaultMaxUploadBytes is the largest CSV file accepted when Config does
// not say.
const DefaultMaxUploadBytes = 1 << 30

// Config configures a Server.
type Config struct {
	// DataRoot is the directory Read may serve files from. Empty disables
	// reading paths (Read answers FailedPrecondition).
	DataRoot string
	// MaxUploadBytes bounds the size of a CSV file, uploaded or read;
	// 0 or less means DefaultMaxUploadBytes.
	MaxUploadBytes int64
}

// Check reports a configuration the server cannot work with, such as a
// data root that is not a directory; binaries call it at startup.
func (c Config) Check() error {
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
}

// NewServer returns a server. It parses the bundled datasets to count
// their rows; they are compiled in and tested, so a failure is a build
// defect and panics at startup rather than at a client.
func NewServer(cfg Config) *Server {
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = DefaultMaxUploadBytes
	}
	sets, err := loadBundled()
	if err != nil {
		panic("ingest: " + err.Error())
	}
	return &Server{cfg: cfg, bundled: sets}
}

// ListBundled lists the datasets that ship with alur.
func (s *Server) ListBundled(context.Context, *ingestv1.ListBundledRequest) (*ingestv1.ListBundledResponse, error) {
	resp := &ingestv1.ListBundledResponse{}
	for _, b := range s.bundled {
		resp.Datasets = append(resp.Datasets, b.proto())
	}
	return resp, nil
}

// Upload parses a CSV file sent in chunks. The bytes go through a pipe to
// the parser as they arrive, so parsing overlaps receiving and a file that
// breaks a limit or has a parse error is refused without waiting for the
// rest of it.
func (s *Server) Upload(stream ingestv1.IngestService_UploadServer) error {
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
	opts, err := csvio.OptionsFromProto(o)
	if err != nil {
		return toStatus(err, "chunk")
	}
	opts.MaxBytes = s.cfg.MaxUploadBytes

	pr, pw := io.Pipe()
	type result struct {
		t   *table.Table
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			if r := recover(); r != nil {
				res = result{err: fmt.Errorf("csv parser panic: %v", r)}
			}
			// Unblock the receiving side whatever happened to the parser.
			pr.CloseWithError(errParserDone)
			done <- res
		}()
		res.t, res.err = csvio.Read(pr, opts)
	}()
	// abort stops the parser and waits for it, so no goroutine outlives the
	// call.
	abort := func(err error) error {
		pw.CloseWithError(err)
		<-done
		return err
	}
	write := func(b []byte) error {
		if len(b) == 0 {
			return nil
		}
		if _, err := pw.Write(b); err != nil {
			// The parser stopped early: report why.
			res := <-done
			if res.err == nil {
				res.err = fmt.Errorf("csv parser stopped early")
			}
			return toStatus(res.err, "chunk")
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
			return abort(serverkit.FromContext(err))
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
			return abort(serverkit.InvalidArgument("options", reason))
		default:
			return abort(serverkit.InvalidArgument("part", "is empty: send a chunk"))
		}
	}
	pw.Close()
	res := <-done
	if res.err != nil {
		return toStatus(res.err, "chunk")
	}
	return sendTable(res.t, o.GetName(), func(r *ingestv1.UploadResponse) error { return stream.Send(r) }, uploadParts)
}

// Read parses a CSV file from the data root or a bundled dataset.
func (s *Server) Read(req *ingestv1.ReadRequest, stream ingestv1.IngestService_ReadServer) error {
	opts, err := csvio.OptionsFromProto(req.GetOptions())
	if err != nil {
		return toStatus(err, "")
	}
	opts.MaxBytes = s.cfg.MaxUploadBytes
	var (
		src   io.Reader
		name  = req.GetOptions().GetName()
		field string
	)
	switch req.GetSource().(type) {
	case *ingestv1.ReadRequest_Path:
		field = "path"
		f, err := s.open(req.GetPath())
		if err != nil {
			return err
		}
		defer f.Close()
		src = &ctxReader{ctx: stream.Context(), r: f}
		if name == "" {
			name = path.Base(filepath.ToSlash(req.GetPath()))
		}
	case *ingestv1.ReadRequest_Bundled:
		field = "bundled"
		b := s.lookup(req.GetBundled())
		if b == nil {
			return serverkit.Errorf(codes.NotFound, "no bundled dataset %q; valid names: %s", req.GetBundled(), bundledNames(s.bundled))
		}
		src = bytes.NewReader(b.data)
		if name == "" {
			name = b.name
		}
	default:
		return serverkit.InvalidArgument("source", "is missing: set path or bundled")
	}
	t, err := csvio.Read(src, opts)
	if err != nil {
		return toStatus(err, field)
	}
	return sendTable(t, name, func(r *ingestv1.ReadResponse) error { return stream.Send(r) }, readParts)
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

// errParserDone closes the pipe once the parser has returned, so a
// pending write fails instead of blocking.
var errParserDone = errors.New("csv parser finished")

// toStatus maps library errors to gRPC statuses. field names the request
// field holding the CSV bytes ("chunk", "path" or "bundled") for parse
// errors; option errors name "options.<field>".
func toStatus(err error, field string) error {
	var (
		pe *csvio.ParseError
		fe *tablepb.FieldError
		le *tablepb.LimitError
	)
	switch {
	case errors.As(err, &fe):
		return serverkit.InvalidArgument("options."+fe.Field, fe.Reason)
	case errors.As(err, &le):
		if le.Limit == "max_bytes" {
			return serverkit.ResourceExhausted("max_upload_bytes", fmt.Sprintf("the file is larger than the server's limit of %d bytes", le.Max))
		}
		return serverkit.ResourceExhausted(le.Limit, le.Error())
	case errors.As(err, &pe):
		return serverkit.InvalidArgument(field, pe.Error())
	case errors.Is(err, csvio.ErrEmpty):
		return serverkit.InvalidArgument(field, "empty file: no header row")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return serverkit.FromContext(err)
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return serverkit.Errorf(codes.Internal, "reading CSV: %v", err)
}

// responseParts builds the three kinds of response message of a table
// stream; Upload and Read answer with different message types of the same
// shape.
type responseParts[R any] struct {
	schema  func(*datav1.Schema) R
	batch   func(*datav1.TableBatch) R
	summary func(*datav1.TableSummary) R
}

var uploadParts = responseParts[*ingestv1.UploadResponse]{
	schema: func(s *datav1.Schema) *ingestv1.UploadResponse {
		return &ingestv1.UploadResponse{Part: &ingestv1.UploadResponse_Schema{Schema: s}}
	},
	batch: func(b *datav1.TableBatch) *ingestv1.UploadResponse {
		return &ingestv1.UploadResponse{Part: &ingestv1.UploadResponse_Batch{Batch: b}}
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
	summary: func(s *datav1.TableSummary) *ingestv1.ReadResponse {
		return &ingestv1.ReadResponse{Part: &ingestv1.ReadResponse_Summary{Summary: s}}
	},
}

// sendTable streams t as schema, batches and a closing summary.
func sendTable[R any](t *table.Table, name string, send func(R) error, parts responseParts[R]) error {
	err := tablepb.Send(t, tablepb.DefaultBatchBytes,
		func(s *datav1.Schema) error { return send(parts.schema(s)) },
		func(b *datav1.TableBatch) error { return send(parts.batch(b)) })
	if err != nil {
		return toStatus(err, "")
	}
	return send(parts.summary(&datav1.TableSummary{
		RowCount: int64(t.NumRows()),
		Digest:   tablepb.Digest(t),
		Schema:   t.Schema(),
		Name:     name,
	}))
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
