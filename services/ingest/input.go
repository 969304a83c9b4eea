package ingest

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/alur-ml/alur/ml/csvio"
	"github.com/alur-ml/alur/ml/jsonl"
	"github.com/alur-ml/alur/ml/source"
	"github.com/alur-ml/alur/ml/tablepb"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	"github.com/alur-ml/alur/serverkit"
)

// input is a file to read: random access to its raw bytes, which may be
// compressed. Every source ends up as one: a file under the data root, a
// spooled upload or URL body, or a bundled dataset in memory. Random access
// lets the readers make their two passes and lets Parquet read its footer.
type input struct {
	ra   io.ReaderAt
	size int64
	// field names the request field the bytes came from, for errors:
	// "path", "bundled", "url" or "chunk".
	field string
}

// Format names, as CsvOptions.format takes them and IngestReport.format
// reports them.
const (
	formatCSV     = "csv"
	formatTSV     = "tsv"
	formatJSONL   = "jsonl"
	formatParquet = "parquet"
)

// readOptions are the parsed CsvOptions.
type readOptions struct {
	format string // "", csv, tsv, jsonl or parquet ("" detects)
	csv    csvio.Options
	jsonl  jsonl.Options
}

// parseOptions converts the wire options, on top of csvio.OptionsFromProto
// for the CSV fields it maps. Errors are *tablepb.FieldError naming the
// CsvOptions field.
func parseOptions(o *ingestv1.CsvOptions, maxBytes int64) (readOptions, error) {
	var ro readOptions
	opts, err := csvio.OptionsFromProto(o)
	if err != nil {
		return ro, err
	}
	switch f := o.GetFormat(); f {
	case "", "auto":
	case formatCSV, formatTSV, formatJSONL, formatParquet:
		ro.format = f
	default:
		return ro, &tablepb.FieldError{Field: "format", Reason: fmt.Sprintf("unknown format %q; valid: auto, csv, tsv, jsonl, parquet", f)}
	}
	if ro.format == formatTSV {
		if opts.Delimiter != 0 && opts.Delimiter != '\t' {
			return ro, &tablepb.FieldError{Field: "delimiter", Reason: fmt.Sprintf("%q contradicts format \"tsv\", whose delimiter is a tab", opts.Delimiter)}
		}
		opts.Delimiter = '\t'
	}
	switch q := o.GetQuote(); {
	case q == "":
	case len(q) != 1 || q[0] >= 0x80:
		return ro, &tablepb.FieldError{Field: "quote", Reason: fmt.Sprintf("must be one ASCII character, got %q", q)}
	case q[0] == '\r' || q[0] == '\n' || rune(q[0]) == opts.Delimiter:
		return ro, &tablepb.FieldError{Field: "quote", Reason: fmt.Sprintf("cannot be %q", q)}
	default:
		opts.Quote = q[0]
	}
	if n := o.GetMaxBadRows(); n < 0 {
		return ro, &tablepb.FieldError{Field: "max_bad_rows", Reason: fmt.Sprintf("must be 0 or more, got %d", n)}
	}
	opts.NoComments = o.GetNoComments()
	opts.MaxBadRows = o.GetMaxBadRows()
	opts.MaxBytes = maxBytes
	ro.csv = opts
	ro.jsonl = jsonl.Options{
		MissingValues:      opts.MissingValues,
		CategoricalColumns: opts.CategoricalColumns,
		MaxBadRows:         opts.MaxBadRows,
		MaxBytes:           maxBytes,
	}
	return ro, nil
}

// gzipMagic starts every gzip member (RFC 1952, section 2.3.1).
var gzipMagic = []byte{0x1f, 0x8b}

// parquetMagic starts (and ends) every Parquet file.
var parquetMagic = []byte("PAR1")

// readInput reads in with the options and streams the table to sink. It
// removes gzip compression (detected by its magic bytes, whatever the
// format option says), picks the format (the option, or detection by
// content), and runs the format's reader. Temporary files it needs (a
// decompressed Parquet file) go to the spool directory and are removed
// before it returns.
func (s *Server) readInput(ctx context.Context, in input, ro readOptions, sink source.Sink) (*ingestv1.IngestReport, error) {
	open := func() (io.ReadCloser, error) {
		return io.NopCloser(&ctxReader{ctx: ctx, r: io.NewSectionReader(in.ra, 0, in.size)}), nil
	}
	head := make([]byte, 4)
	n, err := in.ra.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading the file: %w", err)
	}
	head = head[:n]
	if n == 0 {
		return nil, serverkit.InvalidArgument(in.field, "empty file")
	}
	compression := ""
	if bytes.HasPrefix(head, gzipMagic) {
		compression = "gzip"
		raw := open
		open = func() (io.ReadCloser, error) {
			rc, _ := raw()
			cr := &countingReader{r: rc}
			zr, err := gzip.NewReader(cr)
			if err != nil {
				return nil, &badInputError{reason: "not a valid gzip file: " + err.Error()}
			}
			return &gzipReadCloser{zr: zr, in: cr, limit: s.cfg.MaxUploadBytes, ratio: s.cfg.MaxGzipRatio}, nil
		}
		head, err = peek(open, 64<<10)
		if err != nil {
			return nil, err
		}
		if len(head) == 0 {
			return nil, serverkit.InvalidArgument(in.field, "empty file (after gzip decompression)")
		}
	} else if head, err = peek(open, 64<<10); err != nil {
		// Enough to see past leading blank lines to the first byte.
		return nil, err
	}
	format := ro.format
	if format == "" {
		format = detect(head)
	}
	var rep *source.Report
	switch format {
	case formatCSV, formatTSV:
		copts := ro.csv
		copts.MaxColumns = s.cfg.MaxColumns
		rep, err = csvio.Stream(open, copts, sink)
	case formatJSONL:
		rep, err = jsonl.Stream(open, ro.jsonl, sink)
	case formatParquet:
		ra, size := in.ra, in.size
		if compression != "" {
			f, n, err := s.spool(open)
			if err != nil {
				return nil, err
			}
			defer removeSpool(f)
			ra, size = f, n
		}
		rep, err = readParquet(ctx, ra, size, ro.csv.MaxBadRows, ro.csv.CategoricalColumns, sink)
	}
	if err != nil {
		return nil, err
	}
	return reportProto(rep, compression), nil
}

// detect picks the format of (decompressed) content from its first bytes:
// Parquet's magic "PAR1", JSON Lines when the first non-blank byte is '{',
// CSV otherwise.
func detect(head []byte) string {
	if bytes.HasPrefix(head, parquetMagic) {
		return formatParquet
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return formatJSONL
	}
	return formatCSV
}

// peek returns up to n first bytes of what open yields.
func peek(open source.Opener, n int) ([]byte, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, n)
	k, err := io.ReadFull(rc, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	return buf[:k], nil
}

// spool copies what open yields to a temporary file in the spool
// directory, refusing more than the size limit, and returns the file
// (positioned anywhere; use ReadAt) and its size. The caller removes it
// with removeSpool.
func (s *Server) spool(open source.Opener) (*os.File, int64, error) {
	rc, err := open()
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(s.cfg.SpoolDir, "alur-ingest-*")
	if err != nil {
		return nil, 0, serverkit.Errorf(codes.Internal, "spool file: %v", err)
	}
	n, err := io.Copy(f, io.LimitReader(rc, s.cfg.MaxUploadBytes+1))
	if err == nil && n > s.cfg.MaxUploadBytes {
		err = &tablepb.LimitError{Limit: "max_bytes", Max: s.cfg.MaxUploadBytes}
	}
	if err != nil {
		removeSpool(f)
		return nil, 0, err
	}
	return f, n, nil
}

// removeSpool closes and deletes a spool file.
func removeSpool(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// GzipRatioGraceBytes is how much a gzip stream may expand before its
// compression ratio is checked: small files of repetitive values compress
// far beyond any sane ratio and are harmless.
const GzipRatioGraceBytes = 16 << 20

// gzipReadCloser decompresses, failing with a *tablepb.LimitError on
// "max_bytes" once the decompressed size passes the limit, and on
// "max_gzip_ratio" once the stream, past GzipRatioGraceBytes, has expanded
// more than ratio times the compressed bytes consumed. A gzip bomb expands
// about 1000 times from its first bytes, so it is refused after
// GzipRatioGraceBytes of output instead of after the whole size limit
// (3 MB expanding to 3 GiB once took 33 s to reach a 1 GiB limit through
// the CSV reader).
type gzipReadCloser struct {
	zr    *gzip.Reader
	in    *countingReader
	limit int64
	ratio int64
	n     int64
}

func (g *gzipReadCloser) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	g.n += int64(n)
	if g.n > g.limit {
		return n, &tablepb.LimitError{Limit: "max_bytes", Max: g.limit, Detail: "after gzip decompression"}
	}
	if g.ratio > 0 && g.n > GzipRatioGraceBytes && g.n > g.ratio*g.in.n {
		return n, &tablepb.LimitError{Limit: "max_gzip_ratio", Max: g.ratio, Detail: fmt.Sprintf("%d compressed bytes expanded to more than %d: a gzip bomb?", g.in.n, g.n)}
	}
	var ce flate.CorruptInputError
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ce) {
		err = &badInputError{reason: "corrupt gzip data: " + err.Error()}
	}
	return n, err
}

func (g *gzipReadCloser) Close() error { return g.zr.Close() }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// badInputError is input that cannot be read at all (such as corrupt gzip
// data or a malformed Parquet file); it maps to InvalidArgument on the
// input's field.
type badInputError struct{ reason string }

func (e *badInputError) Error() string { return e.reason }

// reportProto converts a reader's report.
func reportProto(rep *source.Report, compression string) *ingestv1.IngestReport {
	out := &ingestv1.IngestReport{
		Format:      rep.Format,
		Compression: compression,
		Dialect:     rep.Dialect,
		Rows:        rep.Rows,
		SkippedRows: rep.SkippedRows,
	}
	for _, b := range rep.BadRows {
		out.BadRows = append(out.BadRows, &ingestv1.BadRow{Line: b.Line, Reason: b.Reason, Excerpt: strings.ToValidUTF8(b.Excerpt, "\uFFFD")})
	}
	return out
}
