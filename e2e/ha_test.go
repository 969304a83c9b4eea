package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
)

// TestHATakeover runs three orchestrator binaries on one real etcd (and
// one blob directory), starts runs through each, kills one with SIGKILL
// in the middle of its runs, and checks that the two survivors take its
// runs over: every run SUCCEEDED exactly once, with the same model as the
// same spec has on the survivors' own runs. It logs the takeover times
// (from the kill to each orphan's resume event).
func TestHATakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("three orchestrators on etcd, one killed")
	}
	etcd := etcdtest.Start(t)
	const ttl = 2 * time.Second
	shared := []string{
		"--store", "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/ha",
		"--blobs", "file://" + t.TempDir(), "--owner-ttl", ttl.String(),
	}
	c := startCluster(t, map[string][]string{"orchestrator": shared})
	orchs := []*proc{c.procs["orchestrator"]}
	clients := []orchestratorv1.OrchestratorServiceClient{c.client}
	for range 2 {
		p := startProc(t, "orchestrator", anyPort, c.args("orchestrator", shared)...)
		conn, err := serverkit.Dial(p.addr, clusterDialOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		orchs = append(orchs, p)
		clients = append(clients, orchestratorv1.NewOrchestratorServiceClient(conn))
	}
	digest := upload(t, c.client, "synth.csv", synthCSV(1500, 1))

	// Three runs through each orchestrator; the same three seeds on each,
	// so a run taken over can be compared with its twins.
	const perOrch = 3
	ids := make([][]string, len(orchs))
	for i, cl := range clients {
		for s := range perOrch {
			ids[i] = append(ids[i], startRun(t, cl, severalTrials(digest, int64(s+1))))
		}
	}
	// Kill the first orchestrator once its first run has finished a step.
	waitEvent(t, clients[1], ids[0][0], func(ev *orchestratorv1.RunEvent) bool {
		return ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED
	})
	orchs[0].kill(t)
	killed := time.Now()

	var takeovers []time.Duration
	models := map[int64]string{}
	for i, list := range ids {
		for s, id := range list {
			cl := clients[1+i%2] // a survivor
			run := waitRun(t, cl, id)
			if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
				t.Errorf("run %s: %s: %s", id, run.GetState(), run.GetError())
				continue
			}
			counts := map[orchestratorv1.RunEventKind]int{}
			for _, ev := range runEvents(t, t.Context(), cl, id) {
				counts[ev.GetKind()]++
				if i == 0 && ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED {
					takeovers = append(takeovers, ev.GetTime().AsTime().Sub(killed))
				}
			}
			if counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED] != 1 {
				t.Errorf("run %s succeeded %d times", id, counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED])
			}
			seed := int64(s + 1)
			if m, ok := models[seed]; ok && m != run.GetModelDigest() {
				t.Errorf("run %s (seed %d): model %s, its twins have %s", id, seed, run.GetModelDigest(), m)
			}
			models[seed] = run.GetModelDigest()
		}
	}
	if len(takeovers) == 0 {
		t.Fatal("no run of the killed orchestrator was taken over")
	}
	slices.Sort(takeovers)
	t.Logf("owner TTL %v; %d runs taken over; takeover (kill to resume event) min %v, p50 %v, max %v",
		ttl, len(takeovers), takeovers[0].Round(time.Millisecond), takeovers[len(takeovers)/2].Round(time.Millisecond), takeovers[len(takeovers)-1].Round(time.Millisecond))
}
