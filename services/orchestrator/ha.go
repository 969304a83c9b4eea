package orchestrator

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/alur-ml/alur/services/orchestrator/engine"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore"
)

// DefaultOwnerTTL is how long a run stays with an orchestrator that
// stopped answering before another takes it over.
const DefaultOwnerTTL = 10 * time.Second

// takeover shares runs between the orchestrators on one etcd store. This
// orchestrator holds a lease (kept alive while it runs); every run it
// creates or claims is fenced to that lease (etcdstore.Fence). When
// another orchestrator's lease ends, its owner keys vanish, and every
// survivor races to Claim the orphaned runs: one wins each and resumes it
// from its last finished step. A rescan every TTL/2 catches what a watch
// missed.
type takeover struct {
	st     *etcdstore.Store
	sess   *concurrency.Session
	id     string
	ttl    time.Duration
	logger *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	// lost is closed when the lease ends while running; releasing marks
	// the deliberate end at shutdown.
	lost      chan struct{}
	releasing atomic.Bool
}

// DefaultReplicaID names an orchestrator by its host and process id,
// which tell replicas apart in a run's event log.
func DefaultReplicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "orchestrator"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// newTakeover takes a lease for this orchestrator, replica id, and fences
// st to it. The fence token is the id and the lease ("id@lease"): a
// replica restarted under the same id (a StatefulSet pod, a reused pid)
// holds a new lease, so it never passes the fence of its predecessor's
// runs, nor do two replicas given the same id by mistake.
func newTakeover(st *etcdstore.Store, id string, ttl time.Duration, logger *slog.Logger) (*takeover, error) {
	if ttl <= 0 {
		ttl = DefaultOwnerTTL
	}
	secs := max(int((ttl+time.Second-1)/time.Second), 1)
	sess, err := concurrency.NewSession(st.Client(), concurrency.WithTTL(secs))
	if err != nil {
		return nil, fmt.Errorf("owner lease: %w", err)
	}
	st.Fence(fmt.Sprintf("%s@%x", id, int64(sess.Lease())), sess.Lease())
	t := &takeover{st: st, sess: sess, id: id, ttl: time.Duration(secs) * time.Second, logger: logger, done: make(chan struct{}), lost: make(chan struct{})}
	go t.watchLease()
	return t, nil
}

// start scans for orphaned runs now and whenever an owner key goes away,
// until stop.
func (t *takeover) start(eng *engine.Engine) {
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go func() {
		defer close(t.done)
		watch := t.st.Client().Watch(ctx, t.st.OwnerKeys(), clientv3.WithPrefix(), clientv3.WithFilterPut())
		cancels := t.st.Client().Watch(ctx, t.st.CancelKeys(), clientv3.WithPrefix(), clientv3.WithFilterDelete())
		tick := time.NewTicker(t.ttl / 2)
		defer tick.Stop()
		for {
			t.scan(eng)
			select {
			case <-ctx.Done():
				return
			case <-t.sess.Done():
				return
			case <-tick.C:
			case _, ok := <-watch:
				if !ok {
					watch = t.st.Client().Watch(ctx, t.st.OwnerKeys(), clientv3.WithPrefix(), clientv3.WithFilterPut())
				}
			case resp, ok := <-cancels:
				if !ok {
					cancels = t.st.Client().Watch(ctx, t.st.CancelKeys(), clientv3.WithPrefix(), clientv3.WithFilterDelete())
					continue
				}
				for _, ev := range resp.Events {
					if id, ok := t.st.RunOfCancelKey(string(ev.Kv.Key)); ok {
						t.cancelRun(ctx, eng, id)
					}
				}
			}
		}
	}()
}

// scan claims every unfinished run without owner and resumes it, oldest
// first.
func (t *takeover) scan(eng *engine.Engine) {
	ids, err := t.st.Orphans()
	if err != nil {
		t.logger.Warn("takeover scan", "err", err)
		return
	}
	for _, id := range ids {
		if _, live := eng.Live(id); live {
			continue
		}
		run, ok, err := t.st.Claim(id)
		if err != nil {
			t.logger.Warn("claim run", "run", id, "err", err)
			continue
		}
		if ok {
			eng.ResumeRun(run, "taken over by orchestrator "+t.id)
			if asked, err := t.st.CancelRequested(run.GetId()); err == nil && asked {
				t.cancelRun(context.Background(), eng, run.GetId())
			}
		}
	}
}

// cancelRun cancels a run live here that a client asked another
// orchestrator to cancel; without waiting, so the loop goes on.
func (t *takeover) cancelRun(ctx context.Context, eng *engine.Engine, id string) {
	if _, live := eng.Live(id); !live {
		return
	}
	go func() {
		if _, _, err := eng.Cancel(ctx, id); err != nil {
			t.logger.Warn("cancel run", "run", id, "err", err)
		}
	}()
}

// stop ends the scans; release then ends the lease, so the runs this
// orchestrator leaves unfinished go to the others at once.
func (t *takeover) stop() {
	if t.cancel != nil {
		t.cancel()
		<-t.done
	}
}

// release ends the lease on purpose (a clean shutdown), which Lost does
// not report.
func (t *takeover) release() error {
	t.releasing.Store(true)
	return t.sess.Close()
}

// watchLease closes lost when the lease ends other than by release.
func (t *takeover) watchLease() {
	<-t.sess.Done()
	if !t.releasing.Load() {
		close(t.lost)
	}
}

// watchEvents returns a channel that receives after each change to the
// run's event log or record, from any orchestrator, until ctx ends. It
// coalesces: one pending wake at most.
func (t *takeover) watchEvents(ctx context.Context, runID string) <-chan struct{} {
	out := make(chan struct{}, 1)
	w := t.st.Client().Watch(clientv3.WithRequireLeader(ctx), t.st.RunKeys(runID), clientv3.WithPrefix())
	go func() {
		for range w {
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out
}
