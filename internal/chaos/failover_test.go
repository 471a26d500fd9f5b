package chaos

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/redistest"
	"github.com/muster-ops/muster/store"
)

// recoveryLimit is muster's promise: after Redis promotes a replica,
// every replica serves again within it.
const recoveryLimit = 10 * time.Second

// A Redis Cluster master dies mid-escalation: the master that serves the
// organization's slot is killed with SIGKILL while two `muster serve`
// replicas escalate tasks (each master has one replica, cluster-node-
// timeout 2 s).
func TestChaosClusterMasterKilled(t *testing.T) {
	needChaos(t)
	c := redistest.StartClusterWith(t, redistest.ClusterOptions{Replicas: 1})
	failoverDrill(t, "cluster", c.URL, func(ctx context.Context) (*redistest.Failover, error) {
		return c.KillMaster(ctx, "muster:{"+namespace+"}:")
	})
}

// The Sentinel's primary dies mid-escalation (two replicas, one Sentinel
// with a 1 s down-after), with the configuration the README recommends:
// wait_replicas=1, so every transition muster confirms is on a replica
// before the failover.
func TestChaosSentinelPrimaryKilled(t *testing.T) {
	needChaos(t)
	s := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 2})
	failoverDrill(t, "sentinel", s.URL+"&wait_replicas=1", s.Kill)
}

// failoverDrill is the drill of a Redis failover: two replicas on url
// escalate two plans; once the tasks are past their first step, kill
// takes Redis's primary away, and from that moment a guard acknowledges a
// task through each replica every 100 ms until it is recorded. It fails
// unless each replica recorded its acknowledgement within recoveryLimit
// of Redis promoting a replica, and unless every escalation still runs to
// its end. What the failover lost or repeated is printed, not failed on:
// Redis replicates asynchronously, and nothing muster does can keep a
// Cluster failover from discarding the last writes its master confirmed
// (WAIT does not: a Cluster may promote a replica that had not received
// them); on Sentinel, wait_replicas closes that window for what muster
// confirmed.
func failoverDrill(t *testing.T, name, url string, kill func(context.Context) (*redistest.Failover, error)) {
	began := time.Now()
	w := newWorldWith(t, worldOptions{replicas: 2, redisURL: url})
	// The drill's deadline starts once the binary is built and the
	// replicas run.
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	cfg, err := configs.Load(w.replicas[0].cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Options{URL: url, Namespace: namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := func() string { return fmt.Sprintf("+%v", time.Since(began).Round(time.Millisecond)) }
	t.Logf("%s setup (%s Redis, 2 replicas)", at(), name)

	acts := []int64{w.trigger(ctx, w.replicas[0], "chaos", "harbour"), w.trigger(ctx, w.replicas[1], "chaos", "depot")}
	hold := w.trigger(ctx, w.replicas[0], "hold", "harbour")
	acts = append(acts, hold)
	// One task of the hold plan (ten-minute waits: still open when the
	// failover is over) for each replica to acknowledge.
	held, err := tasksOf(ctx, st, []int64{hold})
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		r      *replica
		user   string
		id     string
		answer time.Time
	}
	var targets []*target
	for _, tk := range held {
		if p, ok := cfg.Person(tk.Assignee); ok && p.Slack != "" && len(targets) < len(w.replicas) {
			targets = append(targets, &target{r: w.replicas[len(targets)], user: p.Slack, id: tk.ID()})
		}
	}
	if len(targets) != len(w.replicas) {
		t.Fatalf("only %d tasks of the hold plan are assigned to people on Slack", len(targets))
	}
	// Mid-escalation: a second step (audit steps count from 1) ran.
	if !waitUntil(ctx, 20*time.Second, func() bool { return stepsRun(ctx, st, 2) >= 2 }) {
		t.Fatal("escalation did not reach its second step")
	}

	var watch []*readiness
	for _, r := range w.replicas {
		watch = append(watch, watchReady(r))
	}
	f, err := kill(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s killed (SIGKILL) mid-escalation", at(), f.Killed.Addr)
	var wg sync.WaitGroup
	actx, stopAcks := context.WithTimeout(ctx, 60*time.Second)
	defer stopAcks()
	for _, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tg.answer = w.ackUntil(actx, tg.r, tg.user, tg.id)
		}()
	}
	promoted, err := f.Promoted(ctx)
	if err != nil {
		t.Fatalf("no replica promoted: %v", err)
	}
	t.Logf("%s %s promoted %v after the kill", at(), promoted.Addr, f.PromotedAt.Sub(f.KilledAt).Round(time.Millisecond))
	wg.Wait()
	var backs []string
	for _, tg := range targets {
		if tg.answer.IsZero() {
			t.Errorf("%s never recorded %s's acknowledgement of %s after the failover", tg.r.name, tg.user, tg.id)
			backs = append(backs, tg.r.name+" never")
			continue
		}
		back := tg.answer.Sub(f.PromotedAt)
		backs = append(backs, fmt.Sprintf("%s %.2f s", tg.r.name, back.Seconds()))
		if back > recoveryLimit {
			t.Errorf("%s recorded an acknowledgement only %v after the promotion, want within %v", tg.r.name, back, recoveryLimit)
		}
	}
	var ready []string
	for i, rd := range watch {
		ready = append(ready, w.replicas[i].name+" "+rd.report(f.PromotedAt))
	}

	tasks, ok := settle(ctx, st, acts, 60*time.Second)
	if !ok {
		t.Fatalf("escalation did not run to its end after the failover; logs in %s", w.dir)
	}
	steps := countSteps(ctx, st, tasks)
	msgs := w.count(ctx, st, cfg, tasks, acts)
	for _, p := range msgs.problems {
		t.Logf("%s failover: %s", name, p)
	}
	out, err := exec.CommandContext(ctx, w.bin, "audit", "verify", "--config", w.replicas[0].cfg, "--redis", url).Output()
	if err != nil {
		out = append(out, []byte(err.Error()+"\n")...)
	}
	fmt.Printf("chaos %s: %s killed mid-escalation; Redis promoted %s %.1f s later\n", name, f.Killed.Addr, promoted.Addr,
		f.PromotedAt.Sub(f.KilledAt).Seconds())
	fmt.Printf("chaos %s: serving again after the promotion (an acknowledgement recorded through each replica; limit %v): %s\n",
		name, recoveryLimit, strings.Join(backs, ", "))
	fmt.Printf("chaos %s: %s\n", name, strings.Join(ready, "; "))
	fmt.Printf("chaos %s: %d tasks ran to their end; %s; %s (a failover may lose or repeat the last writes: not failed on)\n",
		name, len(tasks), steps, msgs)
	fmt.Printf("chaos %s: audit verify: %s", name, out)
	fmt.Printf("chaos %s: runtime %v\n", name, time.Since(began).Round(100*time.Millisecond))
}

// countSteps says how many escalation steps each task ran against its
// policy: each step of each task once.
func countSteps(ctx context.Context, st *store.Store, tasks []*store.Task) string {
	ran := map[string]int{}
	_ = st.ScanAudit(ctx, "", func(e store.AuditEvent) error {
		if e.Kind == "task.escalated" || e.Kind == "task.unanswered" {
			ran[e.Subject]++
		}
		return nil
	})
	expected, happened, missing, twice := 0, 0, 0, 0
	for _, tk := range tasks {
		want := policySteps + 1 // every step, then unanswered
		if tk.Status == store.TaskAcknowledged {
			want = 1 // the hold plan's one step, then the acknowledgement
		}
		n := ran[tk.ID()]
		expected += want
		happened += n
		switch {
		case n < want:
			missing += want - n
		case n > want:
			twice += n - want
		}
	}
	return fmt.Sprintf("steps expected %d, happened %d (missing %d, twice %d)", expected, happened, missing, twice)
}
