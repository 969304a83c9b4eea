package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/stack"
)

// stackConfig says where the in-process services listen, keep state and
// serve the dashboard.
type stackConfig struct {
	stack.Config
	// HTTPAddr is where the web dashboard listens; empty serves none.
	HTTPAddr string
	// MetricsAddr is where the process's metrics registry, which every
	// service records into, is served as /metrics; empty serves none.
	MetricsAddr string
	// ServeAddr is where the serving stage (Open Inference Protocol)
	// listens, and ServeHTTPAddr its HTTP/JSON form; empty serves none.
	ServeAddr, ServeHTTPAddr string
}

// devStack is the five services of package stack plus, when asked, the
// serving stage, the web dashboard and the metrics endpoint.
type devStack struct {
	*stack.Stack
	// DashboardURL is the web dashboard's address, if one is served.
	DashboardURL string
	// MetricsURL is the /metrics address, if metrics are served.
	MetricsURL string
	// ServeAddr and ServeURL are the serving stage's gRPC address and
	// HTTP/JSON base URL, if served.
	ServeAddr, ServeURL string

	serving     *serveStage
	failed      chan error
	stopForward chan struct{}
	stopDash    func()
	stopMetrics func()
}

// failedRoom is room for every failure a devStack reports: each of the
// five services at most once, and the serving stage's gRPC and HTTP
// servers at most once each, so no server ever blocks reporting.
const failedRoom = 5 + 2

// startStack starts the services (package stack), then the serving stage
// when cfg.ServeAddr is set and the dashboard when cfg.HTTPAddr is set.
// The dashboard is a view: when its port is taken the services still run,
// and the log says why there is no dashboard.
func startStack(ctx context.Context, cfg stackConfig) (*devStack, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var metricsLis net.Listener
	if cfg.MetricsAddr != "" {
		// Listen before anything starts, so a taken port fails at once.
		var err error
		if metricsLis, err = serverkit.Listen(cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	st, err := stack.Start(ctx, cfg.Config)
	if err != nil {
		if metricsLis != nil {
			metricsLis.Close()
		}
		return nil, err
	}
	d := &devStack{Stack: st, failed: make(chan error, failedRoom), stopForward: make(chan struct{})}
	go d.forward(st.Failed())
	if cfg.ServeAddr != "" {
		if d.serving, err = startServe(cfg.ServeAddr, cfg.ServeHTTPAddr, st.OrchestratorAddr, logger.With("service", "serve"), d.failed); err != nil {
			if metricsLis != nil {
				metricsLis.Close()
			}
			return nil, errors.Join(err, d.Stop())
		}
		d.ServeAddr, d.ServeURL = d.serving.addr, d.serving.httpURL
	}
	if metricsLis != nil {
		d.MetricsURL = "http://" + metricsLis.Addr().String() + "/metrics"
		d.stopMetrics = serveMetrics(metricsLis, logger)
	}
	if cfg.HTTPAddr != "" {
		if d.DashboardURL, d.stopDash, err = serveDashboard(cfg.HTTPAddr, st.Orchestrator.DashboardSource(), logger); err != nil {
			logger.Warn("no web dashboard", "err", err)
		}
	}
	return d, nil
}

// forward passes the failures of the stack's services on to d.failed
// until Stop.
func (d *devStack) forward(src <-chan error) {
	for {
		select {
		case err := <-src:
			select {
			case d.failed <- err:
			default:
			}
		case <-d.stopForward:
			return
		}
	}
}

// Failed delivers the error of a service (the serving stage included)
// that stopped serving before Stop.
func (d *devStack) Failed() <-chan error { return d.failed }

// Stop stops the dashboard, the metrics endpoint and the serving stage
// (it reads the orchestrator), then the services (see stack.Stack.Stop).
// It is safe to call more than once.
func (d *devStack) Stop() error {
	if d.stopDash != nil {
		d.stopDash()
		d.stopDash = nil
	}
	if d.stopMetrics != nil {
		d.stopMetrics()
		d.stopMetrics = nil
	}
	if d.serving != nil {
		d.serving.Stop()
		d.serving = nil
	}
	err := d.Stack.Stop()
	if d.stopForward != nil {
		close(d.stopForward)
		d.stopForward = nil
	}
	return err
}

// serveMetrics serves the process's one registry (every service of the
// stack records into it) on lis until the returned stop is called.
func serveMetrics(lis net.Listener, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := serverkit.ServeMetrics(ctx, lis, logger); err != nil {
			logger.Error("metrics", "err", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
