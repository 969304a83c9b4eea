// Command serve runs alur's serving stage: the Open Inference Protocol
// (inference.GRPCInferenceService, as KServe, Triton and MLServer speak it)
// over gRPC on --addr and its HTTP/JSON form on --http, for the models in
// the orchestrator's registry. It reports NOT_SERVING until the
// orchestrator answers. Like the other binaries it takes --ready-file (the
// gRPC address it listens on, for --addr host:0); --http-ready-file does
// the same for the HTTP/JSON address.
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/proto/inference"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/serve"
)

func main() {
	addr := flag.String("addr", "localhost:7005", "address to listen on (host:port)")
	httpAddr := flag.String("http", "localhost:8005", "address of the protocol's HTTP/JSON form (empty disables it)")
	httpReady := flag.String("http-ready-file", "", "`file` to write the HTTP/JSON address to, once it listens (with --http host:0, the port the kernel picked); removed at exit")
	orch := flag.String("orchestrator", "localhost:7000", "address of the orchestrator, whose registry holds the models")
	cfg := serve.Config{}
	flag.Int64Var(&cfg.MaxModelBytes, "max-model-bytes", serve.DefaultMaxModelBytes, "largest model or transform loaded, in bytes; a larger one is refused at load")
	flag.DurationVar(&cfg.AliasTTL, "alias-ttl", serve.DefaultAliasTTL, "how long an alias's resolution is trusted before the registry is asked again")
	flag.IntVar(&cfg.MaxModels, "max-models", serve.DefaultMaxModels, "model versions kept in memory; beyond it the least recently used is dropped")
	flag.IntVar(&cfg.MaxRows, "max-rows", serve.DefaultMaxRows, "largest number of rows in one request")
	opts := serverkit.BindFlags(flag.CommandLine)
	flag.Parse()

	logger := serverkit.NewLogger("serve")
	cfg.Logger = logger
	dopts, err := opts.DialOptions()
	if err != nil {
		logger.Error("orchestrator connection", "err", err)
		os.Exit(1)
	}
	conn, err := serverkit.Dial(*orch, dopts...)
	if err != nil {
		logger.Error("orchestrator connection", "err", err)
		os.Exit(1)
	}
	defer conn.Close()
	cfg.Registry = orchestratorv1.NewOrchestratorServiceClient(conn)
	cfg.Health = healthpb.NewHealthClient(conn)
	srv, err := serve.New(cfg)
	if err != nil {
		logger.Error("start", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	httpDone := make(chan struct{})
	if *httpAddr != "" {
		lis, err := serverkit.Listen(*httpAddr)
		if err != nil {
			logger.Error("http", "err", err)
			os.Exit(1)
		}
		scheme := "http"
		if opts.TLSCert != "" {
			scheme = "https"
		}
		logger.Info("http", "url", scheme+"://"+lis.Addr().String()+"/v2")
		if *httpReady != "" {
			if err := serverkit.WriteReadyFile(*httpReady, lis.Addr().String()); err != nil {
				logger.Error("http", "err", err)
				os.Exit(1)
			}
			defer os.Remove(*httpReady)
		}
		go func() {
			defer close(httpDone)
			if err := serve.ServeHTTP(ctx, lis, serve.RequireToken(srv.Handler(), opts.AuthToken), logger, opts.TLSCert, opts.TLSKey); err != nil {
				logger.Error("http", "err", err)
			}
		}()
	} else {
		close(httpDone)
	}
	serverkit.MainWithServer("serve", *addr, opts, func(s *serverkit.Server) error {
		srv.Register(s.GRPC)
		name := inference.GRPCInferenceService_ServiceDesc.ServiceName
		s.HoldServing(name)
		go srv.WaitReady(ctx, time.Second, func() {
			s.Health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
			s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		})
		return nil
	})
	stop()
	<-httpDone
}
