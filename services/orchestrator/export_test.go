package orchestrator

import "github.com/alur-ml/alur/services/orchestrator/store"

// Store exposes the server's store to the external tests, which check
// what a run left behind.
func (s *Server) Store() *store.Store { return s.store }
