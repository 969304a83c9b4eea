// Package alurtest starts the alur services in a test's process, on
// loopback ports the system picks, and stops them when the test ends. It
// wraps package stack with clients and cleanup, so that every test that
// needs the stages or the whole stack starts them the same way.
package alurtest

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"

	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/stack"
)

// Stack is the five services of a test with a client of each.
type Stack struct {
	*stack.Stack
	Orchestrator orchestratorv1.OrchestratorServiceClient
	Clients

	conns []*grpc.ClientConn
}

// Clients are clients of the four stages.
type Clients struct {
	Ingest ingestv1.IngestServiceClient
	Prep   prepv1.PrepServiceClient
	Train  trainv1.TrainServiceClient
	Eval   evalv1.EvalServiceClient
}

// Start serves the stages and the orchestrator until the test ends; an
// empty cfg.DataDir means a temporary directory of the test.
func Start(t testing.TB, cfg stack.Config) *Stack {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop the stack: %v", err)
		}
	})
	return s
}

// New starts the stack outside a test's life, for a TestMain or a
// fixture shared by a package's tests; Close stops it.
func New(cfg stack.Config) (*Stack, error) {
	st, err := stack.Start(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	s := &Stack{Stack: st}
	addrs := []string{st.OrchestratorAddr, st.IngestAddr, st.PrepAddr, st.TrainAddr, st.EvalAddr}
	for _, a := range addrs {
		c, err := serverkit.Dial(a)
		if err != nil {
			return nil, errors.Join(err, s.Close())
		}
		s.conns = append(s.conns, c)
	}
	s.Orchestrator = orchestratorv1.NewOrchestratorServiceClient(s.conns[0])
	s.Clients = clients(s.conns[1:])
	return s, nil
}

func clients(conns []*grpc.ClientConn) Clients {
	return Clients{
		Ingest: ingestv1.NewIngestServiceClient(conns[0]),
		Prep:   prepv1.NewPrepServiceClient(conns[1]),
		Train:  trainv1.NewTrainServiceClient(conns[2]),
		Eval:   evalv1.NewEvalServiceClient(conns[3]),
	}
}

// Close closes the clients and stops the services.
func (s *Stack) Close() error {
	for _, c := range s.conns {
		_ = c.Close()
	}
	return s.Stack.Stop()
}

// Stages serves the four stages alone until the test ends, for tests
// that build their own orchestrator (to restart it, or to point it at
// other replicas).
func Stages(t testing.TB, cfg stack.StagesConfig) *stack.Stages {
	t.Helper()
	st, err := stack.StartStages(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stop the stages: %v", err)
		}
	})
	return st
}
