package stageclient

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/alur-ml/alur/ml/algo"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// DefaultCatalogTimeout bounds one ListAlgorithms call when NewCatalog is
// given no timeout.
const DefaultCatalogTimeout = 10 * time.Second

// staleRefetchTimeout bounds the refetch of a list that went stale: with
// an earlier list at hand, a train that is down should delay a caller
// (StartRun) by a moment, not by the whole timeout.
const staleRefetchTimeout = time.Second

// Catalog keeps the algorithms that the train service behind a connection
// serves from ListAlgorithms, so that the orchestrator validates specs
// against whatever train implementation it talks to instead of a list
// compiled into it.
//
// The list is fetched on first use, with a deadline, and kept while the
// connection stays up: when the connection leaves the READY state (train
// restarted, or was replaced by another implementation) the list is
// dropped and the next Get fetches it again over the new connection. A
// failed fetch is not kept either. Catalog is safe for concurrent use.
type Catalog struct {
	conn    *grpc.ClientConn
	client  trainv1.TrainServiceClient
	timeout time.Duration

	fetchMu sync.Mutex // one fetch at a time; held before mu
	mu      sync.Mutex // guards cat and stale
	cat     *algo.Catalog
	stale   bool

	stop context.CancelFunc
	done chan struct{}
	// onStale, when set (by tests), is called each time the watcher
	// drops the list.
	onStale func()
}

// NewCatalog returns a Catalog that asks train over conn, each call
// bounded by timeout (DefaultCatalogTimeout when 0). It watches conn's
// state until Close.
func NewCatalog(conn *grpc.ClientConn, timeout time.Duration) *Catalog {
	return newCatalog(conn, timeout, nil)
}

func newCatalog(conn *grpc.ClientConn, timeout time.Duration, onStale func()) *Catalog {
	if timeout <= 0 {
		timeout = DefaultCatalogTimeout
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &Catalog{
		conn:    conn,
		client:  trainv1.NewTrainServiceClient(conn),
		timeout: timeout,
		stop:    stop,
		done:    make(chan struct{}),
		onStale: onStale,
	}
	go c.watch(ctx)
	return c
}

// Close stops watching the connection. It does not close the connection.
func (c *Catalog) Close() {
	c.stop()
	<-c.done
}

// watch drops the list whenever the connection is seen anywhere but READY
// (or was READY and changed), so that the next Get asks the (possibly
// different) server behind the new connection.
func (c *Catalog) watch(ctx context.Context) {
	defer close(c.done)
	state := c.conn.GetState()
	for c.conn.WaitForStateChange(ctx, state) {
		next := c.conn.GetState()
		// Any change away from Ready, or any state but Ready, may hide a
		// reconnect to another train: the connection can go down and up
		// again between two looks, so "was Ready, is not" alone misses
		// some. A needless drop costs one ListAlgorithms call.
		if state == connectivity.Ready || next != connectivity.Ready {
			c.Invalidate()
			if c.onStale != nil {
				c.onStale()
			}
		}
		state = next
	}
}

// Invalidate drops the list; the next Get fetches it again. Callers also
// use it when train refuses an algorithm the list names, a sign that the
// service changed behind a connection that stayed up.
func (c *Catalog) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stale = true
}

// cached returns the kept list and whether it is still current.
func (c *Catalog) cached() (*algo.Catalog, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cat, c.cat != nil && !c.stale
}

// Get returns train's algorithms, fetching them when none are kept or the
// kept ones are stale. When a refetch fails (it waits at most a second
// when an earlier list exists) Get returns the earlier list: validation against a slightly old list is
// better than refusing every spec while train restarts, and train checks
// the configuration again when it trains. Without any list the error is
// the fetch's, a gRPC status (Unavailable, DeadlineExceeded, ...) or a
// description of an answer that could not be used.
func (c *Catalog) Get(ctx context.Context) (*algo.Catalog, error) {
	if cat, ok := c.cached(); ok {
		return cat, nil
	}
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	if cat, ok := c.cached(); ok { // another caller fetched meanwhile
		return cat, nil
	}
	c.mu.Lock()
	c.stale = false // a state change from here on makes this fetch stale
	c.mu.Unlock()
	c.mu.Lock()
	timeout := c.timeout
	if c.cat != nil {
		timeout = min(timeout, staleRefetchTimeout)
	}
	c.mu.Unlock()
	cat, err := c.fetch(ctx, timeout)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.stale = true
		if c.cat != nil {
			return c.cat, nil
		}
		return nil, err
	}
	c.cat = cat
	return cat, nil
}

// fetch calls ListAlgorithms once, bounded by timeout. It waits for the
// connection to be ready (within the deadline) rather than failing at
// once while a restarted train comes back.
func (c *Catalog) fetch(ctx context.Context, timeout time.Duration) (*algo.Catalog, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.client.ListAlgorithms(ctx, &trainv1.ListAlgorithmsRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return nil, err
	}
	cat, err := algo.CatalogFromProto(resp)
	if err != nil {
		return nil, fmt.Errorf("train's ListAlgorithms answer: %w", err)
	}
	return cat, nil
}
