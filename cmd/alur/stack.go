package main

import (
	"context"
	"log/slog"

	"github.com/alur-ml/alur/services/orchestrator/stack"
)

// stackConfig says where the in-process services listen, keep state and
// serve the dashboard.
type stackConfig struct {
	stack.Config
	// HTTPAddr is where the web dashboard listens; empty serves none.
	HTTPAddr string
}

// devStack is the five services of package stack plus the web dashboard.
type devStack struct {
	*stack.Stack
	// DashboardURL is the web dashboard's address, if one is served.
	DashboardURL string
	stopDash     func()
}

// startStack starts the services (package stack) and, when cfg.HTTPAddr
// is set, the dashboard. The dashboard is a view: when its port is taken
// the services still run, and the log says why there is no dashboard.
func startStack(ctx context.Context, cfg stackConfig) (*devStack, error) {
	st, err := stack.Start(ctx, cfg.Config)
	if err != nil {
		return nil, err
	}
	d := &devStack{Stack: st}
	if cfg.HTTPAddr != "" {
		logger := cfg.Logger
		if logger == nil {
			logger = slog.New(slog.DiscardHandler)
		}
		if d.DashboardURL, d.stopDash, err = serveDashboard(cfg.HTTPAddr, st.OrchestratorAddr, logger); err != nil {
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
	return d.Stack.Stop()
}
