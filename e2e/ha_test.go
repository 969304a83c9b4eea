package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
)

// TestHATakeover runs three orchestrator binaries on one real etcd (and
// one blob directory), starts runs through each, then several times kills
// one with SIGKILL in the middle of the runs and starts a fresh one in its
// place. The survivors take the dead one's runs over: every run SUCCEEDED
// exactly once, with the same model as the runs of the same spec. It logs
// the takeover times, from a kill to each "taken over" resume event.
func TestHATakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("three orchestrators on etcd, killed in turn")
	}
	etcd := etcdtest.Start(t)
	const (
		ttl     = 2 * time.Second
		cycles  = 4
		perOrch = 4
		seeds   = 3
	)
	shared := []string{
		"--store", "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/ha",
		"--blobs", "file://" + t.TempDir(), "--owner-ttl", ttl.String(),
	}
	c := startCluster(t, map[string][]string{"orchestrator": shared})
	orchs := []*proc{c.procs["orchestrator"]}
	clients := []orchestratorv1.OrchestratorServiceClient{c.client}
	startOrch := func() (*proc, orchestratorv1.OrchestratorServiceClient) {
		p := startProc(t, "orchestrator", anyPort, c.args("orchestrator", shared)...)
		conn, err := serverkit.Dial(p.addr, clusterDialOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return p, orchestratorv1.NewOrchestratorServiceClient(conn)
	}
	for range 2 {
		p, cl := startOrch()
		orchs, clients = append(orchs, p), append(clients, cl)
	}
	digest := upload(t, c.client, "synth.csv", synthCSV(1500, 1))

	type started struct {
		id   string
		seed int64
	}
	var runs []started
	for i, cl := range clients {
		for j := range perOrch {
			seed := int64((i*perOrch+j)%seeds + 1)
			runs = append(runs, started{startRun(t, cl, severalTrials(digest, seed)), seed})
		}
	}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	var kills []time.Time
	for k := range cycles {
		if k == 0 {
			// The first kill waits for real progress on the victim's run.
			waitEvent(t, clients[1], runs[0].id, func(ev *orchestratorv1.RunEvent) bool {
				return ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED
			})
		} else {
			// Kills further apart than the TTL, so each takeover is
			// timed from the kill it answers.
			time.Sleep(ttl + time.Duration(500+rng.IntN(1500))*time.Millisecond)
		}
		v := k % len(orchs)
		orchs[v].kill(t)
		kills = append(kills, time.Now())
		orchs[v], clients[v] = startOrch()
	}
	t.Logf("%d kills, delays from seed %d", cycles, seed)

	var takeovers []time.Duration
	models := map[int64]string{}
	taken := 0
	for i, r := range runs {
		cl := clients[i%len(clients)]
		run := waitRun(t, cl, r.id)
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Errorf("run %s: %s: %s", r.id, run.GetState(), run.GetError())
			continue
		}
		succeeded := 0
		for _, ev := range runEvents(t, t.Context(), cl, r.id) {
			switch {
			case ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED:
				succeeded++
			case ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED && strings.HasPrefix(ev.GetMessage(), "taken over"):
				taken++
				at := ev.GetTime().AsTime()
				// The kill this takeover answers is the last one before it.
				for j := len(kills) - 1; j >= 0; j-- {
					if kills[j].Before(at) {
						takeovers = append(takeovers, at.Sub(kills[j]))
						break
					}
				}
			}
		}
		if succeeded != 1 {
			t.Errorf("run %s succeeded %d times", r.id, succeeded)
		}
		if m, ok := models[r.seed]; ok && m != run.GetModelDigest() {
			t.Errorf("run %s (seed %d): model %s, the other runs of its spec have %s", r.id, r.seed, run.GetModelDigest(), m)
		}
		models[r.seed] = run.GetModelDigest()
	}
	if taken == 0 {
		t.Fatal("no run was taken over")
	}
	slices.Sort(takeovers)
	p := func(q float64) time.Duration {
		return takeovers[int(q*float64(len(takeovers)-1))].Round(time.Millisecond)
	}
	t.Logf("owner TTL %v; %d runs, %d kills, %d takeovers; kill to resume: min %v, p50 %v, p99 %v, max %v",
		ttl, len(runs), cycles, taken, p(0), p(0.5), p(0.99), p(1))
}

// TestHAEtcdRestart kills the etcd member under two orchestrators in the
// middle of their runs and starts it again on its data: the runs pause
// while etcd is away (store calls wait for it) and then finish, each
// exactly once, without a takeover, since the outage is shorter than the
// owner TTL.
func TestHAEtcdRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the etcd under two orchestrators")
	}
	etcd := etcdtest.Start(t)
	shared := []string{
		"--store", "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/outage",
		"--blobs", "file://" + t.TempDir(), "--owner-ttl", "15s",
	}
	c := startCluster(t, map[string][]string{"orchestrator": shared})
	p := startProc(t, "orchestrator", anyPort, c.args("orchestrator", shared)...)
	conn, err := serverkit.Dial(p.addr, clusterDialOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	clients := []orchestratorv1.OrchestratorServiceClient{c.client, orchestratorv1.NewOrchestratorServiceClient(conn)}
	digest := upload(t, c.client, "synth.csv", synthCSV(1500, 1))
	var ids []string
	for i := range 6 {
		ids = append(ids, startRun(t, clients[i%2], severalTrials(digest, int64(i%3+1))))
	}
	waitEvent(t, clients[0], ids[0], func(ev *orchestratorv1.RunEvent) bool {
		return ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED
	})
	down := time.Now()
	etcd.Restart(t)
	t.Logf("etcd was away for %v", time.Since(down).Round(time.Millisecond))
	for i, id := range ids {
		cl := clients[i%2]
		run := waitRun(t, cl, id)
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Errorf("run %s: %s: %s", id, run.GetState(), run.GetError())
			continue
		}
		if len(run.GetTrials()) != 6 || run.GetModelDigest() == "" || run.GetTestMetrics() == nil {
			t.Errorf("run %s: %d trials, model %q; want 6 trials and a scored model", id, len(run.GetTrials()), run.GetModelDigest())
		}
		counts := map[orchestratorv1.RunEventKind]int{}
		for _, ev := range runEvents(t, t.Context(), cl, id) {
			counts[ev.GetKind()]++
		}
		if counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED] != 1 || counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED] != 0 {
			t.Errorf("run %s events by kind %v: want one success and no takeover", id, counts)
		}
	}
	for _, pr := range []*proc{c.procs["orchestrator"], p} {
		if !pr.running() {
			t.Errorf("an orchestrator exited during the outage:\n%s", pr.log)
		}
	}
}

// TestHAThroughput times 50 concurrent small runs (iris, one candidate, a
// seed each) on one orchestrator on bbolt, one on etcd, and three on etcd
// sharing the same stages. It only reports; set ALUR_HA_THROUGHPUT=1 to
// run it (make ha-throughput).
func TestHAThroughput(t *testing.T) {
	if os.Getenv("ALUR_HA_THROUGHPUT") == "" {
		t.Skip("set ALUR_HA_THROUGHPUT=1 to time 50 runs on 1 and 3 orchestrators")
	}
	const runs = 50
	etcd := etcdtest.Start(t)
	c := startCluster(t, nil)
	orchestrators := func(n int, prefix string) []orchestratorv1.OrchestratorServiceClient {
		var out []orchestratorv1.OrchestratorServiceClient
		for range n {
			args := c.args("orchestrator", []string{
				"--store", "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=" + prefix,
				"--blobs", "file://" + filepath.Join(c.dataDir, prefix), "--max-queued-runs", "100"})
			p := startProc(t, "orchestrator", anyPort, args...)
			conn, err := serverkit.Dial(p.addr, clusterDialOpts()...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			out = append(out, orchestratorv1.NewOrchestratorServiceClient(conn))
		}
		return out
	}
	measure := func(name string, clients []orchestratorv1.OrchestratorServiceClient) {
		begin := time.Now()
		ids := make([]string, runs)
		for i := range runs {
			ids[i] = startRun(t, clients[i%len(clients)], &orchestratorv1.PipelineSpec{
				Name: fmt.Sprintf("throughput-%d", i), Source: irisSource(), Label: "species", Seed: int64(i + 1),
				Candidates: []*orchestratorv1.Candidate{{Algorithm: "logistic_regression"}},
			})
		}
		for i, id := range ids {
			if run := waitRun(t, clients[i%len(clients)], id); run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
				t.Fatalf("%s: run %s %s: %s", name, id, run.GetState(), run.GetError())
			}
		}
		d := time.Since(begin)
		t.Logf("%-26s %d runs in %v: %.1f runs/s", name, runs, d.Round(time.Millisecond), runs/d.Seconds())
	}
	measure("1 orchestrator, bbolt", []orchestratorv1.OrchestratorServiceClient{c.client})
	measure("1 orchestrator, etcd", orchestrators(1, "/tp1"))
	measure("3 orchestrators, etcd", orchestrators(3, "/tp3"))
}
