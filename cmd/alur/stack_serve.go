package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/serve"
)

// serveStage is the serving stage of a stack: the Open Inference Protocol
// over gRPC, and its HTTP/JSON form when asked, reading the stack's
// orchestrator as a separate binary would.
type serveStage struct {
	addr, httpURL string
	stop          context.CancelFunc
	done          sync.WaitGroup
	conn          interface{ Close() error }
}

// startServe listens on addr (and httpAddr unless empty) and serves the
// serving stage against the orchestrator at orchAddr. Errors of a server
// that stops on its own go to failed.
func startServe(addr, httpAddr, orchAddr string, logger *slog.Logger, failed chan<- error) (*serveStage, error) {
	lis, err := serverkit.Listen(addr)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	var hlis net.Listener
	if httpAddr != "" {
		if hlis, err = serverkit.Listen(httpAddr); err != nil {
			lis.Close()
			return nil, fmt.Errorf("serve http: %w", err)
		}
	}
	conn, err := serverkit.Dial(orchAddr)
	if err != nil {
		lis.Close()
		if hlis != nil {
			hlis.Close()
		}
		return nil, fmt.Errorf("serve: %w", err)
	}
	srv, err := serve.New(serve.Config{Registry: orchestratorv1.NewOrchestratorServiceClient(conn), Logger: logger})
	if err != nil {
		conn.Close()
		lis.Close()
		if hlis != nil {
			hlis.Close()
		}
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	ss := &serveStage{addr: lis.Addr().String(), stop: stop, conn: conn}
	g := serverkit.NewGRPCServer(logger)
	srv.Register(g.GRPC)
	ss.done.Go(func() {
		if err := g.Serve(ctx, lis); err != nil {
			failed <- fmt.Errorf("serve: %w", err)
		}
	})
	if hlis != nil {
		ss.httpURL = "http://" + hlis.Addr().String() + "/v2"
		ss.done.Go(func() {
			if err := serve.ServeHTTP(ctx, hlis, srv.Handler(), logger, "", ""); err != nil {
				failed <- fmt.Errorf("serve http: %w", err)
			}
		})
	}
	return ss, nil
}

// Stop stops the serving stage and waits for it.
func (ss *serveStage) Stop() {
	ss.stop()
	ss.done.Wait()
	_ = ss.conn.Close()
}
