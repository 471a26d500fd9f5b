package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

// What the failover, in-flight and outage drills share: triggering plans
// through a replica's signed Slack route, reading how far escalation has
// run, waiting for every task to end, and counting messages.

// trigger triggers plan at site through r's /slack/commands and returns
// the activation's number. The replica must have its records (else the
// trigger takes the degraded path, which the outage tests cover).
func (w *world) trigger(ctx context.Context, r *replica, plan, site string) int64 {
	w.t.Helper()
	if !waitUntil(ctx, 15*time.Second, r.ready) {
		w.t.Fatalf("%s not ready", r.name)
	}
	reply, err := w.slash(r, coordinator, map[string]string{"harbour": "C0HARBOUR", "depot": "C0DEPOT"}[site],
		"/plan", "trigger "+plan+" @"+site)
	if err != nil || !activationRE.MatchString(reply) {
		w.t.Fatalf("/plan trigger %s @%s through %s: %s (%v)", plan, site, r.name, reply, err)
	}
	var n int64
	fmt.Sscan(activationRE.FindStringSubmatch(reply)[1], &n)
	return n
}

// stepsRun counts the escalation steps at or past minStep in the audit
// log, whose steps count from 1 (1 counts every step that ran).
func stepsRun(ctx context.Context, st *store.Store, minStep int) int {
	n := 0
	_ = st.ScanAudit(ctx, "", func(e store.AuditEvent) error {
		if e.Kind == "task.escalated" {
			var d struct{ Step int }
			if json.Unmarshal([]byte(e.Data), &d) == nil && d.Step >= minStep {
				n++
			}
		}
		return nil
	})
	return n
}

// tasksOf reads the tasks of the activations.
func tasksOf(ctx context.Context, st *store.Store, acts []int64) ([]*store.Task, error) {
	var out []*store.Task
	for _, a := range acts {
		act, err := st.Activation(ctx, a)
		if err != nil {
			return nil, err
		}
		ts, err := st.Tasks(ctx, act.Tasks)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// settle waits up to d until every task of the activations has ended
// (acknowledged, or unanswered after its last step) and the outbox is
// empty, and returns the tasks.
func settle(ctx context.Context, st *store.Store, acts []int64, d time.Duration) ([]*store.Task, bool) {
	var tasks []*store.Task
	ok := waitUntil(ctx, d, func() bool {
		ts, err := tasksOf(ctx, st, acts)
		if err != nil {
			return false
		}
		for _, tk := range ts {
			if tk.Status != store.TaskUnanswered && tk.Status != store.TaskAcknowledged {
				return false
			}
		}
		tasks = ts
		n, err := st.OutboxLen(ctx)
		return err == nil && n == 0
	})
	return tasks, ok
}

// tally is what the fakes received against what the steps sent.
type tally struct {
	expected, sent, lost, dups int
	// dropped are chat notices of acknowledged tasks that were not
	// posted because the acknowledgement came first.
	dropped int
	// problems describe each message lost or sent twice.
	problems []string
}

func (c tally) String() string {
	s := fmt.Sprintf("messages expected %d, sent %d, lost %d, duplicates %d", c.expected, c.sent, c.lost, c.dups)
	if c.dropped > 0 {
		s += fmt.Sprintf(" (%d notices of acknowledged tasks dropped, as they should be)", c.dropped)
	}
	return s
}

// count compares the messages the fakes accepted with those the steps
// and broadcasts of the activations call for, once the last chat posts
// (paced one a second per channel) had up to 20 s to arrive.
func (w *world) count(ctx context.Context, st *store.Store, cfg *configs.Config, tasks []*store.Task, acts []int64) tally {
	w.t.Helper()
	expected := expectedMessages(w.t, ctx, st, cfg, tasks, acts)
	waitUntil(ctx, 20*time.Second, func() bool {
		got := sentMessages(w.t, w, cfg)
		for k, n := range expected {
			if got[k] < n {
				return false
			}
		}
		return true
	})
	acked := map[string]bool{}
	for _, tk := range tasks {
		if tk.Status == store.TaskAcknowledged {
			acked[tk.ID()] = true
		}
	}
	got := sentMessages(w.t, w, cfg)
	keys := map[msgKey]bool{}
	for k := range expected {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	sorted := make([]msgKey, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].String() < sorted[j].String() })
	var c tally
	for _, k := range sorted {
		e, g := expected[k], got[k]
		c.expected += e
		c.sent += g
		switch {
		case g > e:
			c.dups += g - e
			c.problems = append(c.problems, fmt.Sprintf("sent twice: %v (%d sent, %d expected)", k, g, e))
		case g < e && k.Channel == "chat" && acked[k.Ref]:
			c.dropped += e - g
		case g < e:
			c.lost += e - g
			c.problems = append(c.problems, fmt.Sprintf("lost: %v (%d sent, %d expected)", k, g, e))
		}
	}
	return c
}

// ackUntil sends `/ack id` as user through r every 100 ms until muster
// answers that the task is acknowledged, and returns when that answer
// came (zero if ctx ended first). A refusal ("Records are unavailable")
// is tried again.
func (w *world) ackUntil(ctx context.Context, r *replica, user, id string) time.Time {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		reply, err := w.slash(r, user, "C0HARBOUR", "/ack", id)
		if err == nil && (strings.Contains(reply, id+" acknowledged by") || strings.Contains(reply, id+" is already acknowledged")) {
			return time.Now()
		}
		select {
		case <-ctx.Done():
			return time.Time{}
		case <-tick.C:
		}
	}
}

// readiness watches a replica's /readyz every 100 ms and remembers when
// it first and last answered anything but 200.
type readiness struct {
	// mu guards the fields that follow.
	mu                sync.Mutex
	firstBad, lastBad time.Time
	stop              chan struct{}
	done              chan struct{}
}

func watchReady(r *replica) *readiness {
	rd := &readiness{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(rd.done)
		c := &http.Client{Timeout: time.Second}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			ok := false
			if resp, err := c.Get("http://" + r.addr + "/readyz"); err == nil {
				ok = resp.StatusCode == http.StatusOK
				resp.Body.Close()
			}
			if !ok {
				now := time.Now()
				rd.mu.Lock()
				if rd.firstBad.IsZero() {
					rd.firstBad = now
				}
				rd.lastBad = now
				rd.mu.Unlock()
			}
			select {
			case <-rd.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return rd
}

// report stops watching and says when /readyz was not 200, relative to
// at.
func (rd *readiness) report(at time.Time) string {
	close(rd.stop)
	<-rd.done
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.firstBad.IsZero() {
		return "/readyz 200 throughout"
	}
	return fmt.Sprintf("/readyz not ready from %+.1f s to %+.1f s", rd.firstBad.Sub(at).Seconds(), rd.lastBad.Sub(at).Seconds())
}
