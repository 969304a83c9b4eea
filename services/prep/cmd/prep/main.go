// Command prep runs the alur PrepService: it profiles tables, prepares them
// (split, fit, apply) and applies fitted transforms to new rows.
package main

import (
	"flag"

	"google.golang.org/grpc"

	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/prep"
)

func main() {
	addr := flag.String("addr", "localhost:7002", "address to listen on (host:port)")
	maxRows := flag.Int64("max-rows", prep.DefaultMaxRows, "largest number of rows a received table may have")
	maxColumns := flag.Int("max-columns", prep.DefaultMaxColumns, "largest number of columns a received table may have")
	maxCells := flag.Int64("max-feature-cells", prep.DefaultMaxFeatureCells, "largest rows × prepared columns a request may produce")
	maxCategories := flag.Int("max-categories", prep.DefaultMaxCategories, "largest number of distinct categories a received column may have (and options.max_categories may ask for)")
	opts := serverkit.BindFlags(flag.CommandLine)
	flag.Parse()
	srv := prep.NewServer(prep.Config{MaxRows: *maxRows, MaxColumns: *maxColumns, MaxFeatureCells: *maxCells, MaxCategories: *maxCategories})
	serverkit.MainWith("prep", *addr, opts, func(s *grpc.Server) error {
		prepv1.RegisterPrepServiceServer(s, srv)
		return nil
	})
}
