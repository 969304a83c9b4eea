// Command s3server serves an S3-compatible API on loopback for the tests
// of alur's S3 blob store: gofakes3 (an S3 server written in Go) over a
// bbolt file, so its objects outlive a restart, and one bucket created at
// start. It listens on --addr (port 0 by default) and writes the address
// it got to --ready-file once it serves, so tests never pick a port.
//
// Why gofakes3 rather than a full object store: it builds from the Go
// module proxy in seconds with a handful of dependencies, and speaks the
// calls the blob store makes (put with Content-MD5, multipart upload, get,
// head, delete, list v2). SeaweedFS, the obvious real server, cannot be
// installed with `go install` (its go.mod has replace directives) and
// carries some 500 module requirements, too heavy to build in CI.
//
// It checks no signatures: it is a test server, never a store to keep
// data in. scripts/install-s3.sh builds it into ./bin.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3bolt"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (loopback; port 0 picks a free port)")
	db := flag.String("db", "s3.db", "bbolt file holding the buckets and objects")
	bucket := flag.String("bucket", "alur", "bucket created at start if missing (empty: none)")
	ready := flag.String("ready-file", "", "file the listening address is written to once serving")
	flag.Parse()
	if err := run(*addr, *db, *bucket, *ready); err != nil {
		log.Fatal(err)
	}
}

func run(addr, db, bucket, ready string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--addr %s: a test server listens on loopback only", addr)
	}
	backend, err := s3bolt.NewFile(db)
	if err != nil {
		return fmt.Errorf("open %s: %w", db, err)
	}
	if bucket != "" {
		if err := backend.CreateBucket(bucket); err != nil && !gofakes3.IsAlreadyExists(err) {
			return fmt.Errorf("create bucket %s: %w", bucket, err)
		}
	}
	faker := gofakes3.New(backend, gofakes3.WithIntegrityCheck(true), gofakes3.WithLogger(gofakes3.DiscardLog()))
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: faker.Server(), ReadHeaderTimeout: 10 * time.Second}
	if ready != "" {
		// Written whole under another name, then renamed: a reader
		// never sees half an address.
		tmp := filepath.Join(filepath.Dir(ready), "."+filepath.Base(ready)+".tmp")
		if err := os.WriteFile(tmp, []byte(lis.Addr().String()), 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, ready); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
