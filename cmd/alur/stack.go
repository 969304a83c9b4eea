package main

import (
	"context"
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
}

// devStack is the five services of package stack plus the web dashboard.
type devStack struct {
	*stack.Stack
	// DashboardURL is the web dashboard's address, if one is served.
	DashboardURL string
	// MetricsURL is the /metrics address, if metrics are served.
	MetricsURL  string
	stopDash    func()
	stopMetrics func()
}

// startStack starts the services (package stack) and, when cfg.HTTPAddr
// is set, the dashboard. The dashboard is a view: when its port is taken
// the services still run, and the log says why there is no dashboard.
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
	d := &devStack{Stack: st}
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

// Stop stops the dashboard, then the services (see stack.Stack.Stop).
func (d *devStack) Stop() error {
	if d.stopDash != nil {
		d.stopDash()
		d.stopDash = nil
	}
	if d.stopMetrics != nil {
		d.stopMetrics()
		d.stopMetrics = nil
	}
	return d.Stack.Stop()
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
