package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/artifacts"
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
		if len(singleTrials(run)) != 6 || run.GetModelDigest() == "" || run.GetTestMetrics() == nil {
			t.Errorf("run %s: %d single trials, model %q; want 6 trials (and maybe their ensemble) and a scored model", id, len(singleTrials(run)), run.GetModelDigest())
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

// TestHAMatrix is the fault matrix of a shared store: three orchestrator
// binaries on one real etcd, 30 runs in flight, ten times one of them
// killed with SIGKILL (and started again under a new replica id) a few
// seconds apart. Then, from the event log, whose events name the replica
// that recorded them (RunEvent.owner):
//   - every run SUCCEEDED, with exactly one terminal event, and its log
//     ends with its one REPORT_STORED;
//   - a run's owners follow one another: each new owner begins with the
//     RUN_RESUMED of its takeover, and no earlier owner writes again
//     (fencing refuses a stale owner);
//   - no two owners execute steps of a run at once: each step's
//     [STEP_STARTED, STEP_FINISHED] interval (an unfinished one ends when
//     its owner was killed) overlaps none of another owner's;
//   - every run has its report (a takeover stores the report of a run
//     whose owner was killed after its end), and every artifact of every
//     run, the report among them, reads back through GetArtifact with the
//     digest it is named by;
//   - every run has the same results (step outputs, model, test metrics)
//     as the same spec run on a single orchestrator on bbolt, at the same
//     time on the same stages.
//
// It logs the takeover times, from the kill of an owner to its run's
// RUN_RESUMED by the next owner and to that owner's first step.
func TestHAMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("three orchestrators on etcd, killed ten times")
	}
	etcd := etcdtest.Start(t)
	const (
		ttl   = 2 * time.Second
		runs  = 30
		kills = 10
	)
	// The cluster's own orchestrator is the reference, on bbolt.
	c := startCluster(t, nil)
	shared := []string{
		"--store", "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/matrix",
		"--blobs", "file://" + t.TempDir(), "--owner-ttl", ttl.String(), "--data-dir", t.TempDir(),
	}
	type replica struct {
		id     string
		p      *proc
		client orchestratorv1.OrchestratorServiceClient
	}
	generation := 0
	startReplica := func(slot int) replica {
		id := fmt.Sprintf("orch%d.%d", slot, generation)
		generation++
		p := startProc(t, "orchestrator", anyPort, c.args("orchestrator", append(slices.Clone(shared), "--replica-id", id))...)
		conn, err := serverkit.Dial(p.addr, clusterDialOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return replica{id, p, orchestratorv1.NewOrchestratorServiceClient(conn)}
	}
	replicas := make([]replica, 3)
	for i := range replicas {
		replicas[i] = startReplica(i)
	}
	data := synthCSV(800, 7)
	digest := upload(t, replicas[0].client, "matrix.csv", data)
	if ref := upload(t, c.client, "matrix.csv", data); ref != digest {
		t.Fatalf("the same file uploaded to bbolt has digest %s, to etcd %s", ref, digest)
	}
	spec := func(i int) *orchestratorv1.PipelineSpec {
		return &orchestratorv1.PipelineSpec{
			Name: fmt.Sprintf("matrix-%d", i), Source: uploadSource(digest), Label: "label", Seed: int64(i + 1),
			Candidates: []*orchestratorv1.Candidate{
				{Algorithm: "logistic_regression"},
				{Algorithm: "decision_tree", Params: map[string]float64{"max_depth": 6}},
				{Algorithm: "knn", Params: map[string]float64{"k": 7}},
			},
		}
	}
	ids, refIDs := make([]string, runs), make([]string, runs)
	for i := range runs {
		ids[i] = startRun(t, replicas[i%len(replicas)].client, spec(i))
		refIDs[i] = startRun(t, c.client, spec(i))
	}

	// Kills a few seconds apart, each longer than the TTL so a takeover
	// happens between two kills; the first waits for real progress.
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 17))
	killed := map[string]time.Time{}
	waitEvent(t, replicas[0].client, ids[0], func(ev *orchestratorv1.RunEvent) bool {
		return ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED
	})
	for k := range kills {
		if k > 0 {
			time.Sleep(ttl + time.Duration(500+rng.IntN(1500))*time.Millisecond)
		}
		for _, r := range replicas {
			if !r.p.running() {
				t.Fatalf("orchestrator %s exited on its own: %v\n%s", r.id, r.p.err, r.p.log)
			}
		}
		v := k % len(replicas)
		replicas[v].p.kill(t)
		killed[replicas[v].id] = time.Now()
		replicas[v] = startReplica(v)
	}
	t.Logf("%d kills, delays from seed %d", kills, seed)

	var toResume, toStep []time.Duration
	cut, reports := 0, 0
	kinds := map[string]string{} // digest → artifact kind, of every artifact verified
	for i, id := range ids {
		cl := replicas[i%len(replicas)].client
		run := waitRun(t, cl, id)
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Errorf("run %s: %s: %s", id, run.GetState(), run.GetError())
			continue
		}
		audit := auditOwners(runEvents(t, t.Context(), cl, id), killed)
		for _, p := range audit.problems {
			t.Errorf("run %s: %s", id, p)
		}
		toResume, toStep = append(toResume, audit.toResume...), append(toStep, audit.toStep...)
		cut += audit.cut
		reports += audit.reports
		verifyArtifacts(t, cl, run, kinds)
		ref := waitRun(t, c.client, refIDs[i])
		for _, d := range sameResults(run, ref, kinds) {
			t.Errorf("run %s and its bbolt twin %s differ: %s", id, refIDs[i], d)
		}
	}
	for _, r := range replicas {
		if !r.p.running() {
			t.Errorf("orchestrator %s exited on its own: %v\n%s", r.id, r.p.err, r.p.log)
		}
	}
	if len(toResume) == 0 {
		t.Fatal("no run was taken over")
	}
	t.Logf("owner TTL %v; %d runs, %d kills, %d takeovers (%d of an ended run, to store its report), %d steps cut by a kill, %d artifacts verified",
		ttl, runs, kills, len(toResume), reports, cut, len(kinds))
	t.Logf("kill to RUN_RESUMED by the next owner: %s", quantiles(toResume))
	t.Logf("kill to the next owner's first step:   %s", quantiles(toStep))
}

// ownerAudit is what a run's event log says about its owners.
type ownerAudit struct {
	// toResume holds, per takeover, the time from the kill of the old
	// owner to the new owner's RUN_RESUMED; toStep to its first
	// STEP_STARTED (none when it only finished the run).
	toResume, toStep []time.Duration
	// cut counts the steps whose owner was killed while it ran them.
	cut int
	// reports counts the takeovers of a run that had ended: its owner
	// was killed before it stored the report, which the new owner did.
	reports  int
	problems []string
}

// auditOwners checks a run's events against the kill times of the
// replicas: owners in turn, each new one starting with its RUN_RESUMED,
// none writing after it was killed or after the next took over, and no
// two executing steps at once.
func auditOwners(events []*orchestratorv1.RunEvent, killed map[string]time.Time) ownerAudit {
	var a ownerAudit
	problem := func(format string, args ...any) { a.problems = append(a.problems, fmt.Sprintf(format, args...)) }
	type interval struct {
		owner, step string
		from, to    time.Time
	}
	var (
		intervals []interval
		open      = map[string]time.Time{} // the current owner's unfinished steps
		done      = map[string]bool{}      // owners that handed the run on
		owner     string
		kill      time.Time // when the owner before the current one was killed
		stepped   bool      // the current owner started a step
		terminal  int
		succeeded int
		reports   int
		last      orchestratorv1.RunEventKind
	)
	closeOwner := func() {
		for step, from := range open {
			end, ok := killed[owner]
			if !ok {
				problem("step %s started by %s never finished, and %s was not killed", step, owner, owner)
				end = from
			}
			intervals = append(intervals, interval{owner, step, from, end})
			a.cut++
		}
		clear(open)
	}
	for _, ev := range events {
		at := ev.GetTime().AsTime()
		who := ev.GetOwner()
		last = ev.GetKind()
		if last == orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_STORED {
			reports++
		}
		if who == "" {
			problem("event %d (%s) names no owner", ev.GetSequence(), ev.GetKind())
			continue
		}
		if k, ok := killed[who]; ok && at.After(k) {
			problem("event %d (%s) recorded by %s at %s, after it was killed at %s", ev.GetSequence(), ev.GetKind(), who, at.Format(time.StampMicro), k.Format(time.StampMicro))
		}
		if who != owner {
			if done[who] {
				problem("event %d (%s) recorded by %s, which had handed the run on: a stale owner wrote", ev.GetSequence(), ev.GetKind(), who)
				continue
			}
			if owner != "" {
				if ev.GetKind() != orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED {
					problem("event %d: %s took the run from %s with %s, not RUN_RESUMED", ev.GetSequence(), who, owner, ev.GetKind())
				}
				if ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED && ev.GetRunState() == orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
					a.reports++
				}
				var ok bool
				if kill, ok = killed[owner]; ok {
					a.toResume = append(a.toResume, at.Sub(kill))
				} else {
					problem("event %d: %s took the run from %s, which was not killed", ev.GetSequence(), who, owner)
				}
				closeOwner()
				done[owner] = true
			}
			owner, stepped = who, false
		}
		switch ev.GetKind() {
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_STARTED:
			if _, ok := open[ev.GetStep()]; ok {
				problem("event %d: %s started step %s twice", ev.GetSequence(), who, ev.GetStep())
			}
			open[ev.GetStep()] = at
			if !stepped && !kill.IsZero() {
				a.toStep = append(a.toStep, at.Sub(kill))
			}
			stepped = true
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED, orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FAILED:
			from, ok := open[ev.GetStep()]
			if !ok {
				problem("event %d: %s finished step %s, which it had not started", ev.GetSequence(), who, ev.GetStep())
				continue
			}
			delete(open, ev.GetStep())
			intervals = append(intervals, interval{who, ev.GetStep(), from, at})
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED, orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_FAILED,
			orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_CANCELLED:
			terminal++
			if ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED {
				succeeded++
			}
		}
	}
	closeOwner()
	if terminal != 1 || succeeded != 1 {
		problem("%d terminal events, %d of them RUN_SUCCEEDED; want the one RUN_SUCCEEDED", terminal, succeeded)
	}
	if reports != 1 || last != orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_STORED {
		problem("%d REPORT_STORED events and the log ends with %s; want it to end with its one report", reports, last)
	}
	for i, x := range intervals {
		for _, y := range intervals[i+1:] {
			if x.owner != y.owner && x.from.Before(y.to) && y.from.Before(x.to) {
				problem("%s ran step %s from %s to %s while %s ran step %s from %s to %s",
					x.owner, x.step, x.from.Format(time.StampMicro), x.to.Format(time.StampMicro),
					y.owner, y.step, y.from.Format(time.StampMicro), y.to.Format(time.StampMicro))
			}
		}
	}
	return a
}

// verifyArtifacts reads every artifact of the run, and every output its
// steps name, through GetArtifact (which the server checks against the
// digest) and checks the digest and size once more here. kinds holds
// the kind of each artifact verified already; those it adds.
func verifyArtifacts(t *testing.T, client orchestratorv1.OrchestratorServiceClient, run *orchestratorv1.Run, kinds map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	resp, err := client.ListArtifacts(ctx, &orchestratorv1.ListArtifactsRequest{RunId: run.GetId()})
	if err != nil {
		t.Fatalf("list artifacts of %s: %v", run.GetId(), err)
	}
	if run.GetModelDigest() == "" {
		t.Errorf("run %s has no model", run.GetId())
	}
	if run.GetReportDigest() == "" || run.GetReportPending() {
		t.Errorf("run %s has no report (report pending: %v)", run.GetId(), run.GetReportPending())
	}
	digests := []string{run.GetModelDigest(), run.GetReportDigest()}
	for _, a := range resp.GetArtifacts() {
		digests = append(digests, a.GetDigest())
	}
	for _, st := range run.GetSteps() {
		digests = append(digests, st.GetOutputDigests()...)
	}
	for _, d := range digests {
		if _, ok := kinds[d]; ok || d == "" {
			continue
		}
		kinds[d] = ""
		stream, err := client.GetArtifact(ctx, &orchestratorv1.GetArtifactRequest{Digest: d})
		if err != nil {
			t.Errorf("run %s: artifact %s: %v", run.GetId(), d, err)
			continue
		}
		var meta *orchestratorv1.Artifact
		h := sha256.New()
		var n int64
		for {
			m, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("run %s: artifact %s: %v", run.GetId(), d, err)
				break
			}
			if a := m.GetArtifact(); a != nil {
				meta = a
			}
			h.Write(m.GetChunk())
			n += int64(len(m.GetChunk()))
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != d || meta.GetSize() != n || meta.GetDigest() != d {
			t.Errorf("run %s: artifact %s read back as %d bytes with digest %s (metadata: %s, %d bytes)", run.GetId(), d, n, got, meta.GetDigest(), meta.GetSize())
		}
		kinds[d] = meta.GetKind()
	}
	if d := run.GetReportDigest(); d != "" && kinds[d] != artifacts.KindReport {
		t.Errorf("run %s: its report %s is an artifact of kind %q", run.GetId(), d, kinds[d])
	}
}

// sameResults lists how two runs of the same spec differ in what they
// computed: the step outputs, the chosen trial, the model and its test
// metrics; not ids, times, the report (which names the run), nor train
// results, which record how long each fit took. kinds gives the artifact
// kind of a's outputs.
func sameResults(a, b *orchestratorv1.Run, kinds map[string]string) []string {
	var diffs []string
	outputs := func(r *orchestratorv1.Run) map[string][]string {
		m := map[string][]string{}
		for _, st := range r.GetSteps() {
			m[st.GetName()] = st.GetOutputDigests()
		}
		return m
	}
	oa, ob := outputs(a), outputs(b)
	for _, name := range slices.Sorted(maps.Keys(oa)) {
		x, y := oa[name], ob[name]
		same := len(x) == len(y)
		for j := 0; same && j < len(x); j++ {
			same = x[j] == y[j] || kinds[x[j]] == artifacts.KindTrainResult
		}
		if !same {
			diffs = append(diffs, fmt.Sprintf("step %s outputs %v, %v", name, x, y))
		}
	}
	for name := range ob {
		if _, ok := oa[name]; !ok {
			diffs = append(diffs, "step "+name+" only in the second run")
		}
	}
	for _, f := range []struct{ what, x, y string }{
		{"dataset", a.GetDatasetDigest(), b.GetDatasetDigest()},
		{"transform", a.GetTransformDigest(), b.GetTransformDigest()},
		{"model", a.GetModelDigest(), b.GetModelDigest()},
		{"best trial", fmt.Sprint(a.GetBestTrial()), fmt.Sprint(b.GetBestTrial())},
	} {
		if f.x != f.y {
			diffs = append(diffs, fmt.Sprintf("%s %s, %s", f.what, f.x, f.y))
		}
	}
	if !proto.Equal(a.GetTestMetrics(), b.GetTestMetrics()) {
		diffs = append(diffs, fmt.Sprintf("test metrics %v, %v", a.GetTestMetrics(), b.GetTestMetrics()))
	}
	return diffs
}

// quantiles describes durations by their minimum, p50, p99 and maximum.
func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	q := func(p float64) time.Duration {
		return ds[int(math.Ceil(p*float64(len(ds))))-1].Round(time.Millisecond)
	}
	return fmt.Sprintf("%d: min %v, p50 %v, p99 %v, max %v", len(ds), ds[0].Round(time.Millisecond), q(0.5), q(0.99), ds[len(ds)-1].Round(time.Millisecond))
}

// TestAuditOwners checks the event-log audit of TestHAMatrix on made-up
// logs: it passes a clean takeover and names each fault it exists to
// catch.
func TestAuditOwners(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type e struct {
		owner string
		kind  orchestratorv1.RunEventKind
		step  string
		at    float64 // seconds after t0
	}
	const (
		queued   = orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_QUEUED
		started  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_STARTED
		resumed  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED
		stepIn   = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_STARTED
		stepOut  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED
		success  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED
		failure  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_FAILED
		progress = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_PROGRESS
		report   = orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_STORED
	)
	// a runs collect and starts train, is killed at 5 s; b takes over.
	head := []e{{"a", queued, "", 0}, {"a", started, "", 0.1}, {"a", stepIn, "collect", 0.2}, {"a", stepOut, "collect", 1}, {"a", stepIn, "train", 1.1}}
	tail := []e{{"b", resumed, "", 7}, {"b", started, "", 7.1}, {"b", stepIn, "train", 7.5}, {"b", stepOut, "train", 8}, {"b", success, "", 8.1}, {"b", report, "", 8.2}}
	cat := func(parts ...[]e) []e { return slices.Concat(parts...) }
	cases := []struct {
		name   string
		events []e
		killed map[string]float64
		want   string // a word of the problem, "" for none
	}{
		{"clean takeover", cat(head, tail), map[string]float64{"a": 5}, ""},
		{"no takeover", []e{{"a", queued, "", 0}, {"a", stepIn, "x", 1}, {"a", stepOut, "x", 2}, {"a", success, "", 3}, {"a", report, "", 3.1}}, nil, ""},
		{"report taken over", cat(head, []e{{"a", stepOut, "train", 2}, {"a", success, "", 2.1}, {"b", resumed, "", 7}, {"b", report, "", 7.2}}), map[string]float64{"a": 5}, ""},
		{"steps at once", cat(head, []e{{"b", resumed, "", 3}, {"b", stepIn, "train", 4}, {"b", stepOut, "train", 6}, {"b", success, "", 6.1}, {"b", report, "", 6.2}}), map[string]float64{"a": 5}, "while"},
		{"stale owner writes", cat(head, tail[:3], []e{{"a", progress, "train", 7.6}}, tail[3:]), map[string]float64{"a": 9}, "stale"},
		{"written after the kill", cat(head, []e{{"a", progress, "train", 6}}, tail), map[string]float64{"a": 5}, "after it was killed"},
		{"taken without RUN_RESUMED", cat(head, tail[1:]), map[string]float64{"a": 5}, "not RUN_RESUMED"},
		{"taken from a live owner", cat(head, tail), nil, "not killed"},
		{"no terminal event", cat(head, tail[:4]), map[string]float64{"a": 5}, "terminal"},
		{"no report", cat(head, tail[:5]), map[string]float64{"a": 5}, "report"},
		{"two reports", cat(head, tail, []e{{"b", report, "", 9}}), map[string]float64{"a": 5}, "report"},
		{"two terminal events", cat(head, tail, []e{{"b", failure, "", 9}}), map[string]float64{"a": 5}, "terminal"},
		{"an event without owner", cat(head, []e{{"", progress, "train", 1.2}}, tail), map[string]float64{"a": 5}, "no owner"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var events []*orchestratorv1.RunEvent
			state := orchestratorv1.RunState_RUN_STATE_RUNNING
			for i, x := range c.events {
				if x.kind == success {
					state = orchestratorv1.RunState_RUN_STATE_SUCCEEDED
				}
				events = append(events, &orchestratorv1.RunEvent{Sequence: int64(i + 1), Owner: x.owner, Kind: x.kind, Step: x.step, RunState: state,
					Time: timestamppb.New(t0.Add(time.Duration(x.at * float64(time.Second))))})
			}
			killed := map[string]time.Time{}
			for o, at := range c.killed {
				killed[o] = t0.Add(time.Duration(at * float64(time.Second)))
			}
			a := auditOwners(events, killed)
			got := strings.Join(a.problems, "; ")
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("problems %q, want one saying %q", got, c.want)
			}
			if c.name == "clean takeover" && (!slices.Equal(a.toResume, []time.Duration{2 * time.Second}) ||
				!slices.Equal(a.toStep, []time.Duration{2500 * time.Millisecond}) || a.cut != 1) {
				t.Fatalf("takeovers %v, first steps %v, cut %d; want [2s], [2.5s], 1", a.toResume, a.toStep, a.cut)
			}
			if want := map[bool]int{true: 1}[c.name == "report taken over"]; a.reports != want {
				t.Fatalf("%d takeovers of an ended run, want %d", a.reports, want)
			}
		})
	}
}
