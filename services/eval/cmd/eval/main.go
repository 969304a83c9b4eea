// Command eval runs the alur EvalService: it scores models on prepared rows
// and predicts on raw rows through the fitted transform.
package main

import (
	"flag"

	"google.golang.org/grpc"

	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/eval"
)

func main() {
	addr := flag.String("addr", "localhost:7004", "address to listen on (host:port)")
	maxRows := flag.Int64("max-rows", eval.DefaultMaxRows, "largest number of rows to evaluate or predict in one call")
	maxColumns := flag.Int("max-columns", eval.DefaultMaxColumns, "largest number of columns an evaluation table may have")
	maxModel := flag.Int64("max-model-bytes", eval.DefaultMaxModelBytes, "largest serialized model accepted, in bytes")
	opts := serverkit.BindFlags(flag.CommandLine)
	flag.Parse()
	srv := eval.NewServer(eval.Config{MaxRows: *maxRows, MaxModelBytes: *maxModel, MaxColumns: *maxColumns})
	serverkit.MainWith("eval", *addr, opts, func(s *grpc.Server) error {
		evalv1.RegisterEvalServiceServer(s, srv)
		return nil
	})
}
