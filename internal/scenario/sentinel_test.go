package scenario_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/redistest"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// The suite through a Sentinel URL (a primary and a replica).
func TestSentinelSuite(t *testing.T) {
	s := redistest.StartSentinel(t, redistest.SentinelOptions{})
	storetest.WithURL(t, s.URL)
	runSuite(t, suiteTarget{ns: func(*testing.T) string { return storetest.Namespace() }})
}

// Guards keep raising incidents and acknowledging tasks while the
// Sentinel fails the primary over to the replica. Every raise and every
// ack muster confirmed is in the records afterwards, the audit chain
// verifies, and every confirmed incident's fan-out is delivered.
//
// Two things make that hold, and the test sets both up:
//   - the servers run with min-replicas-to-write 1: without it the old
//     primary goes on accepting writes after the promotion, until the
//     client hears of the switch, and the failover discards them;
//   - every transition is followed by WAIT 1 on its connection
//     (redistest.WaitReplicasHook): Sentinel promotes the replica without
//     waiting for it to catch up, so a transition confirmed in the last
//     milliseconds before the failover is otherwise lost (seen here: an
//     acknowledged task open again). The store does not do this itself
//     yet; see the hook's comment.
//
// With one replica the new primary refuses writes until the Sentinel has
// made the old primary its replica, about ten seconds; commands answer
// "records are unavailable" meanwhile.
func TestSentinelFailover(t *testing.T) {
	s := redistest.StartSentinel(t, redistest.SentinelOptions{MinReplicas: 1})
	storetest.WithURL(t, s.URL)
	h := scenario.New(t)
	h.Store.Client().AddHook(redistest.WaitReplicasHook(h.Store.Client(), 1, time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()

	// Tasks to acknowledge: plans triggered at both sites.
	var tasks []*store.Task
	for i := 0; i < 8; i++ {
		site := []string{"@harbour", "@depot"}[i%2]
		h.As("jonah").MustDo("/plan trigger medical-emergency " + site + " Failover drill " + fmt.Sprint(i))
	}
	acts, err := h.Store.ActiveActivations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acts {
		ts, err := h.Store.Tasks(ctx, a.Tasks)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range ts {
			if tk.Assignee != "" && tk.Status == store.TaskOpen {
				tasks = append(tasks, tk)
			}
		}
	}
	if len(tasks) < 20 {
		t.Fatalf("only %d open tasks to acknowledge", len(tasks))
	}
	h.Out.Take()

	w := &failoverLoad{h: h}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w.raise(loadCtx) }()
	go func() { defer wg.Done(); w.ack(loadCtx, tasks) }()

	waitFor(t, ctx, "raises and acks before the failover", func() bool { c := w.count(); return c[0] >= 20 && c[1] >= 5 })
	t0 := time.Now()
	np, err := s.Failover(ctx)
	if err != nil {
		stopLoad()
		wg.Wait()
		t.Fatalf("failover: %v", err)
	}
	t.Logf("sentinel promoted %s in %v", np.Addr, time.Since(t0))
	// Counted from the promotion on, so the load runs through the time
	// the new primary refuses writes.
	before := w.count()
	waitFor(t, ctx, "raises and acks after the failover", func() bool {
		c := w.count()
		return c[0] >= before[0]+20 && c[1] >= before[1]+5
	})
	stopLoad()
	wg.Wait()

	w.mu.Lock()
	defer w.mu.Unlock()
	t.Logf("raised %d (refused %d), acknowledged %d (refused %d); longest time without a confirmed raise: %v",
		len(w.raised), w.raiseFail, len(w.acked), w.ackFail, w.gap)

	if len(w.odd) > 0 {
		t.Errorf("during the failover muster answered other than \"Records are unavailable\" or \"may not have been recorded\": %q", w.odd)
	}
	// What muster confirmed is in the records.
	lost := 0
	for num, text := range w.raised {
		inc, err := h.Store.Incident(ctx, num)
		if err != nil || inc.Text != text {
			lost++
			t.Errorf("INC-%d (%q) was confirmed but is gone after the failover: %+v, %v", num, text, inc, err)
		}
	}
	for _, num := range w.acked {
		tk, err := h.Store.Task(ctx, num)
		if err != nil || tk.Status != store.TaskAcknowledged {
			lost++
			t.Errorf("T-%d was acknowledged but is %+v after the failover (%v)", num, tk, err)
		}
	}
	t.Logf("confirmed writes lost: %d", lost)
	if v := storetest.SealAndVerify(t, h.Store); !v.OK() {
		t.Errorf("audit chain after the failover: %v", v.Problem)
	}
	// The outbox survived too: every confirmed incident reaches its site.
	h.Settle()
	posted := map[string]bool{}
	for _, m := range h.Out.Messages() {
		if m.Channel == notify.Chat && m.Kind == "incident" {
			posted[m.Ref] = true
		}
	}
	for num := range w.raised {
		if ref := store.FormatID("INC", num); !posted[ref] {
			t.Errorf("%s was confirmed but its post to the site never went out", ref)
		}
	}
}

// failoverLoad raises incidents and acknowledges tasks through muster's
// commands as fast as one guard each, and remembers what was confirmed.
type failoverLoad struct {
	h *scenario.Harness
	// mu guards the fields that follow.
	mu                 sync.Mutex
	raised             map[int64]string // INC-n -> text, confirmed raises
	acked              []int64          // T-n, confirmed acks
	raiseFail, ackFail int
	odd                []string // refusals that do not say records are unavailable
	last               time.Time
	gap                time.Duration
}

// refused notes a refusal that is neither the outage answer nor the
// answer for a request whose outcome is unknown (the master died with it
// in flight: "may not have been recorded"); w.mu is held.
func (w *failoverLoad) refused(text string) {
	honest := strings.HasPrefix(text, "Records are unavailable") || strings.Contains(text, "may not have been recorded")
	if !honest && len(w.odd) < 5 {
		w.odd = append(w.odd, text)
	}
}

func (w *failoverLoad) count() [2]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return [2]int{len(w.raised), len(w.acked)}
}

func (w *failoverLoad) raise(ctx context.Context) {
	w.mu.Lock()
	w.raised = map[int64]string{}
	w.mu.Unlock()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil; i++ {
		text := fmt.Sprintf("Gate alarm %d", i)
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		r := w.h.Svc.Handle(cctx, commandAs("amara", "/incident raise intrusion @harbour "+text))
		cancel()
		w.mu.Lock()
		if num, err := store.ParseID("INC", r.Ref); !r.Error && err == nil {
			w.raised[num] = text
			if !w.last.IsZero() && time.Since(w.last) > w.gap {
				w.gap = time.Since(w.last)
			}
			w.last = time.Now()
		} else if ctx.Err() == nil {
			w.raiseFail++
			w.refused(r.Text)
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

func (w *failoverLoad) ack(ctx context.Context, tasks []*store.Task) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for _, tk := range tasks {
		for ctx.Err() == nil {
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			r := w.h.Svc.Handle(cctx, commandAs(tk.Assignee, "/ack "+tk.ID()))
			cancel()
			// A refused ack that had in fact landed says so when retried.
			ok := !r.Error || strings.Contains(r.Text, "already acknowledged")
			w.mu.Lock()
			if ok {
				w.acked = append(w.acked, tk.Num)
			} else if ctx.Err() == nil {
				w.ackFail++
				w.refused(r.Text)
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
			if ok {
				break
			}
		}
	}
}

// waitFor polls cond every 20ms until it holds; it fails the test when
// ctx ends first.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
