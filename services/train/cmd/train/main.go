// Command train runs the alur TrainService: it fits models on prepared
// tables streamed to it and streams the trained models back.
package main

import (
	"flag"
	"os"
	"runtime/debug"

	"google.golang.org/grpc"

	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/train"
)

// gcPercent is the garbage collector's target unless GOGC says otherwise.
// A training fit holds the table and, for forests, a growing model, all in
// large pointer-free arrays that a collection does not scan, so collecting
// often is cheap; Go's default of 100 would instead let garbage grow to
// the size of everything live, doubling the service's peak memory.
const gcPercent = 5

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	addr := flag.String("addr", "localhost:7003", "address to listen on (host:port)")
	maxRows := flag.Int64("max-rows", train.DefaultMaxRows, "largest number of rows a training table may have")
	maxColumns := flag.Int("max-columns", train.DefaultMaxColumns, "largest number of columns a training table may have")
	serverID := flag.String("server-id", "", "name of this replica in training results (default host/pid)")
	opts := serverkit.BindFlags(flag.CommandLine)
	flag.Parse()
	srv := train.NewServer(train.Config{MaxRows: *maxRows, MaxColumns: *maxColumns, ServerID: *serverID})
	serverkit.MainWith("train", *addr, opts, func(s *grpc.Server) error {
		trainv1.RegisterTrainServiceServer(s, srv)
		return nil
	})
}
