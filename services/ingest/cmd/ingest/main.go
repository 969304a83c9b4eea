// Command ingest runs the alur IngestService: it reads CSV files uploaded
// by clients, under a data root, or bundled with alur, and streams them
// back as typed columnar tables.
package main

import (
	"flag"

	"google.golang.org/grpc"

	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/ingest"
)

func main() {
	addr := flag.String("addr", "localhost:7001", "address to listen on (host:port)")
	dataRoot := flag.String("data-root", "", "directory whose CSV files Read may serve; empty disables reading by path")
	maxUpload := flag.Int64("max-upload-bytes", ingest.DefaultMaxUploadBytes, "largest CSV file accepted, in bytes")
	opts := serverkit.BindFlags(flag.CommandLine)
	flag.Parse()
	cfg := ingest.Config{DataRoot: *dataRoot, MaxUploadBytes: *maxUpload}
	serverkit.MainWith("ingest", *addr, opts, func(s *grpc.Server) error {
		if err := cfg.Check(); err != nil {
			return err
		}
		ingestv1.RegisterIngestServiceServer(s, ingest.NewServer(cfg))
		return nil
	})
}
