// Command ingest runs the alur IngestService: it reads CSV, JSON Lines and
// Parquet files (gzip-compressed or not) uploaded by clients, under a data
// root, from allowed URLs, or bundled with alur, and streams them back as
// typed columnar tables.
package main

import (
	"flag"
	"strings"

	"google.golang.org/grpc"

	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/ingest"
)

// hostList is a repeatable flag of comma-separated hosts.
type hostList []string

func (h *hostList) String() string     { return strings.Join(*h, ",") }
func (h *hostList) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	addr := flag.String("addr", "localhost:7001", "address to listen on (host:port)")
	dataRoot := flag.String("data-root", "", "directory whose files Read may serve; empty disables reading by path")
	maxUpload := flag.Int64("max-upload-bytes", ingest.DefaultMaxUploadBytes, "largest file accepted (uploaded, read, downloaded or decompressed), in bytes")
	maxRatio := flag.Int64("max-gzip-ratio", ingest.DefaultMaxGzipRatio, "largest expansion of a gzip file (decompressed over compressed bytes), checked past 16 MiB of output; a gzip bomb is refused there; negative turns the check off")
	maxColumns := flag.Int("max-columns", ingest.DefaultMaxColumns, "widest table accepted, in columns; a wider file is refused (a CSV right after its header)")
	spoolDir := flag.String("spool-dir", "", "directory for temporary files (uploads, downloads, digest spills); empty means the OS temp directory")
	urlTimeout := flag.Duration("url-timeout", ingest.DefaultURLTimeout, "time limit of one URL download")
	var hosts hostList
	flag.Var(&hosts, "allow-url-host", "host (or host:port) Read may download from; repeat or separate with commas; none turns URL sources off")
	opts := serverkit.BindFlags(flag.CommandLine)
	flag.Parse()
	cfg := ingest.Config{
		DataRoot:       *dataRoot,
		MaxUploadBytes: *maxUpload,
		MaxGzipRatio:   *maxRatio,
		MaxColumns:     *maxColumns,
		AllowURLHosts:  ingest.ParseHostList(hosts),
		URLTimeout:     *urlTimeout,
		SpoolDir:       *spoolDir,
	}
	serverkit.MainWith("ingest", *addr, opts, func(s *grpc.Server) error {
		if err := cfg.Check(); err != nil {
			return err
		}
		ingestv1.RegisterIngestServiceServer(s, ingest.NewServer(cfg))
		return nil
	})
}
