package e2e

import (
	"strings"
	"testing"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/blob/s3test"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
)

// TestHAObjectStoreOutage runs two orchestrator binaries on a real etcd
// with the artifacts in an S3 bucket (the s3server test server, keys
// from the AWS environment variables), stops the S3 server in the middle
// of their runs and keeps it down until both orchestrators have paused a
// run with UNAVAILABLE retries (three for the first run), then starts it
// again on its data: every run finishes, exactly once, and neither
// orchestrator exits. It logs how long each run paused.
func TestHAObjectStoreOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("stops the object store under two orchestrators")
	}
	etcd := etcdtest.Start(t)
	s3 := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "alur-e2e")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "alur-e2e-secret")
	shared := []string{
		"--store", "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/objectstore",
		"--blobs", s3.URL("e2e"), "--owner-ttl", "15s",
		// The store's own retries are short, so the outage reaches the
		// runs, which pause and say so in their events.
		"--blob-retry-window", "300ms",
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

	// The server stops once the runs have stored their first artifact.
	s3.StopAfterPuts(1)
	var ids []string
	for i := range 4 {
		ids = append(ids, startRun(t, clients[i%2], severalTrials(digest, int64(i%2+1))))
	}
	retried := func(ev *orchestratorv1.RunEvent) bool {
		return ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_RETRIED
	}
	first := waitEvent(t, clients[1], ids[1], retried)
	if !strings.Contains(first.GetMessage(), "unavailable") {
		t.Errorf("retry event %q does not say the store is unavailable", first.GetMessage())
	}
	// The server stays down through three retries of the first run.
	n := 0
	waitEvent(t, clients[0], ids[0], func(ev *orchestratorv1.RunEvent) bool {
		if retried(ev) {
			n++
		}
		return n == 3
	})
	s3.Restart(t)
	t.Logf("both orchestrators paused on the outage; %d requests refused", s3.Refused())

	for i, id := range ids {
		cl := clients[i%2]
		run, err := awaitRun(cl, id)
		if err != nil {
			// Say where the run stands and what the orchestrators said.
			if resp, gerr := cl.GetRun(t.Context(), &orchestratorv1.GetRunRequest{RunId: id}); gerr == nil {
				for _, st := range resp.GetRun().GetSteps() {
					t.Logf("run %s step %s: %s", id, st.GetName(), st.GetState())
				}
			}
			t.Fatalf("%v\norchestrator logs:\n%s\n%s", err, c.procs["orchestrator"].log, p.log)
		}
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Errorf("run %s: %s: %s", id, run.GetState(), run.GetError())
			continue
		}
		counts := map[orchestratorv1.RunEventKind]int{}
		// The pause: from the first retry to the first event after the
		// last one, when the run went on.
		var firstRetry, lastRetry, resumed time.Time
		for _, ev := range runEvents(t, t.Context(), cl, id) {
			counts[ev.GetKind()]++
			at := ev.GetTime().AsTime()
			switch {
			case retried(ev):
				if firstRetry.IsZero() {
					firstRetry = at
				}
				lastRetry, resumed = at, time.Time{}
			case !lastRetry.IsZero() && resumed.IsZero():
				resumed = at
			}
		}
		if counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED] != 1 {
			t.Errorf("run %s events by kind %v: want one success", id, counts)
		}
		t.Logf("run %s: %d retries, paused %v", id, counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_RETRIED], resumed.Sub(firstRetry).Round(time.Millisecond))
	}
	for _, pr := range []*proc{c.procs["orchestrator"], p} {
		if !pr.running() {
			t.Errorf("an orchestrator exited during the outage:\n%s", pr.log)
		}
	}
}
