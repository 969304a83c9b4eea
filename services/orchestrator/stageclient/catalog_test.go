package stageclient

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
)

// fakeTrain answers ListAlgorithms with whatever answer holds.
type fakeTrain struct {
	trainv1.UnimplementedTrainServiceServer
	mu     sync.Mutex
	calls  int
	answer func(ctx context.Context) (*trainv1.ListAlgorithmsResponse, error)
}

func (f *fakeTrain) ListAlgorithms(ctx context.Context, _ *trainv1.ListAlgorithmsRequest) (*trainv1.ListAlgorithmsResponse, error) {
	f.mu.Lock()
	f.calls++
	answer := f.answer
	f.mu.Unlock()
	return answer(ctx)
}

func (f *fakeTrain) set(answer func(ctx context.Context) (*trainv1.ListAlgorithmsResponse, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = answer
}

func (f *fakeTrain) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// listing answers a catalog of the named classification algorithms.
func listing(names ...string) func(context.Context) (*trainv1.ListAlgorithmsResponse, error) {
	return func(context.Context) (*trainv1.ListAlgorithmsResponse, error) {
		resp := &trainv1.ListAlgorithmsResponse{}
		for _, n := range names {
			resp.Algorithms = append(resp.Algorithms, &trainv1.AlgorithmInfo{
				Name: n, Tasks: []datav1.Task{datav1.Task_TASK_CLASSIFICATION},
				Params: []*trainv1.ParamInfo{{Name: "k", DefaultValue: 5, Min: 1, Max: 100, Type: trainv1.ParamType_PARAM_TYPE_INTEGER}},
			})
		}
		return resp, nil
	}
}

// trainStack serves fake trains over bufconn, one at a time; restart
// replaces the server behind the same client connection.
type trainStack struct {
	t    *testing.T
	lis  atomic.Pointer[bufconn.Listener]
	srv  *grpc.Server
	conn *grpc.ClientConn
}

func newTrainStack(t *testing.T, f *fakeTrain) *trainStack {
	s := &trainStack{t: t}
	s.serve(f)
	conn, err := grpc.NewClient("passthrough:///train",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return s.lis.Load().DialContext(ctx)
		}),
		// Reconnect at once after a restart rather than after grpc's
		// default one-second backoff. MinConnectTimeout keeps grpc's
		// default: left zero, a connection has only the backoff (1 ms) to
		// finish its handshake, and a slow one is closed just after it
		// turned READY, dropping the catalog.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: time.Millisecond, Multiplier: 1, MaxDelay: time.Millisecond},
			MinConnectTimeout: 20 * time.Second,
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	s.conn = conn
	t.Cleanup(func() {
		conn.Close()
		s.srv.Stop()
	})
	// Start from a connected client, as the orchestrator's is once it
	// has dialled train: the catalog drops its list on every state it
	// sees but READY, so one that watched the first connect could drop a
	// list it had just fetched and make the call counts below vary.
	conn.Connect()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for st := conn.GetState(); st != connectivity.Ready; st = conn.GetState() {
		if !conn.WaitForStateChange(ctx, st) {
			t.Fatalf("the test connection never became ready (last state %v)", st)
		}
	}
	return s
}

func (s *trainStack) serve(f *fakeTrain) {
	lis := bufconn.Listen(1 << 20)
	s.srv = grpc.NewServer()
	trainv1.RegisterTrainServiceServer(s.srv, f)
	go s.srv.Serve(lis)
	s.lis.Store(lis)
}

// restart stops the running server, which drops the connection, and serves
// f in its place.
func (s *trainStack) restart(f *fakeTrain) {
	s.srv.Stop()
	s.serve(f)
}

func TestCatalogFetchesOnceAndCaches(t *testing.T) {
	f := &fakeTrain{}
	f.set(listing("knn", "ridge"))
	c := NewCatalog(newTrainStack(t, f).conn, 0)
	defer c.Close()
	for range 3 {
		cat, err := c.Get(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(cat.Names(), ","); got != "knn,ridge" {
			t.Fatalf("names %s, want knn,ridge", got)
		}
	}
	if n := f.count(); n != 1 {
		t.Errorf("%d ListAlgorithms calls, want 1", n)
	}
	c.Invalidate()
	if _, err := c.Get(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := f.count(); n != 2 {
		t.Errorf("%d ListAlgorithms calls after Invalidate, want 2", n)
	}
}

func TestCatalogFailures(t *testing.T) {
	unavailable := func(context.Context) (*trainv1.ListAlgorithmsResponse, error) {
		return nil, status.Error(codes.Unavailable, "train is starting")
	}
	blocked := func(ctx context.Context) (*trainv1.ListAlgorithmsResponse, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	crossed := func(context.Context) (*trainv1.ListAlgorithmsResponse, error) {
		return &trainv1.ListAlgorithmsResponse{Algorithms: []*trainv1.AlgorithmInfo{{
			Name: "knn", Tasks: []datav1.Task{datav1.Task_TASK_CLASSIFICATION},
			Params: []*trainv1.ParamInfo{{Name: "k", Min: 10, Max: 1}},
		}}}, nil
	}
	for _, tc := range []struct {
		name   string
		answer func(context.Context) (*trainv1.ListAlgorithmsResponse, error)
		code   codes.Code // of the error, when the answer is a status
		text   string     // in the error, otherwise
	}{
		{"unavailable", unavailable, codes.Unavailable, ""},
		{"deadline", blocked, codes.DeadlineExceeded, ""},
		{"unusable answer", crossed, codes.OK, "above max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTrain{}
			f.set(tc.answer)
			c := NewCatalog(newTrainStack(t, f).conn, 100*time.Millisecond)
			defer c.Close()
			_, err := c.Get(t.Context())
			switch {
			case err == nil:
				t.Fatal("Get succeeded")
			case tc.code != codes.OK && status.Code(err) != tc.code:
				t.Fatalf("err = %v, want code %v", err, tc.code)
			case tc.text != "" && !strings.Contains(err.Error(), tc.text):
				t.Fatalf("err = %v, want one containing %q", err, tc.text)
			}
			// The failure is not kept: once train answers, Get succeeds.
			f.set(listing("knn"))
			cat, err := c.Get(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := cat.Lookup("knn"); !ok {
				t.Error("knn missing")
			}
			// A failed refetch keeps the earlier list.
			f.set(unavailable)
			c.Invalidate()
			again, err := c.Get(t.Context())
			if err != nil || again != cat {
				t.Errorf("refetch failure: Get = %v, %v; want the earlier list", again, err)
			}
		})
	}
}

func TestCatalogRefreshesOnReconnect(t *testing.T) {
	first := &fakeTrain{}
	first.set(listing("knn"))
	stack := newTrainStack(t, first)
	stale := make(chan struct{}, 1)
	c := newCatalog(stack.conn, 10*time.Second, func() {
		select {
		case stale <- struct{}{}:
		default:
		}
	})
	defer c.Close()
	cat, err := c.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cat.Names(), ","); got != "knn" {
		t.Fatalf("names %s, want knn", got)
	}
	// Another train implementation takes over.
	second := &fakeTrain{}
	second.set(listing("knn", "my_boosting"))
	stack.restart(second)
	select {
	case <-stale:
	case <-t.Context().Done():
		t.Fatal("the list was never dropped")
	}
	cat, err = c.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cat.Names(), ","); got != "knn,my_boosting" {
		t.Errorf("names after reconnect %s, want knn,my_boosting", got)
	}
	if n := second.count(); n != 1 {
		t.Errorf("%d calls to the new server, want 1", n)
	}
}

// TestCatalogConcurrentGet checks that concurrent first calls share one
// fetch.
func TestCatalogConcurrentGet(t *testing.T) {
	f := &fakeTrain{}
	f.set(listing("knn"))
	c := NewCatalog(newTrainStack(t, f).conn, 0)
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if _, err := c.Get(t.Context()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := errors.Join(func() (all []error) {
		for e := range errs {
			all = append(all, e)
		}
		return all
	}()...); err != nil {
		t.Fatal(err)
	}
	if n := f.count(); n != 1 {
		t.Errorf("%d ListAlgorithms calls for 8 concurrent Gets, want 1", n)
	}
}

// TestRefusesAlgorithm checks which of train's answers drop the catalog:
// only an InvalidArgument naming config.algorithm.
func TestRefusesAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"unknown algorithm", serverkit.InvalidArgument("config.algorithm", `unknown algorithm "x"`), true},
		{"bad parameter", serverkit.InvalidArgument(`config.params["k"]`, "below min"), false},
		{"unavailable", status.Error(codes.Unavailable, "down"), false},
		{"not a status", errors.New("boom"), false},
		{"none", nil, false},
	} {
		if got := refusesAlgorithm(tc.err); got != tc.want {
			t.Errorf("%s: refusesAlgorithm = %t, want %t", tc.name, got, tc.want)
		}
	}
}
