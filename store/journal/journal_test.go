package journal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
	"github.com/muster-ops/muster/store/journal"
)

// at is when the degraded triggers of these tests happened.
var at = time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)

func entry(note string) journal.Entry {
	return journal.Entry{At: at, Plan: "fire-evacuation", PlanName: "Fire evacuation", PlanVersion: 3, Site: "harbour",
		By: "farid", Note: note, Target: 5 * time.Minute,
		Tasks: []store.DegradedTask{
			{Title: "Sweep floors", Role: "guard", Policy: "critical", Assignee: "amara", Note: "on duty as guard",
				AckedBy: "amara", AckedAt: at.Add(40 * time.Second), AckNote: "by phone"},
			{Title: "Take the roll call", Role: "supervisor", Policy: "standard", Assignee: "farid", Note: "on duty as supervisor"},
		},
		Sent: []store.DegradedSend{{Channel: "chat", Site: "harbour", Kind: "broadcast", Task: -1},
			{Channel: "sms", To: "amara", Kind: "task", Task: 0}, {Channel: "sms", To: "farid", Kind: "task", Task: 1}},
	}
}

func open(t *testing.T, path string, st *store.Store) *journal.Journal {
	t.Helper()
	j, err := journal.Open(journal.Options{Path: path, Records: st, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// second opens another client ("another replica") onto st's records.
func second(t *testing.T, st *store.Store) *store.Store {
	t.Helper()
	url := storetest.URL()
	if url == "" {
		url = "redis://" + st.Addr()
	}
	return storetest.OpenURL(t, url, st.Namespace(), nil)
}

// dead is a client onto st's records whose connection is gone: it answers
// ErrUnavailable to everything, as during a Redis outage.
func dead(t *testing.T, st *store.Store) *store.Store {
	t.Helper()
	url := storetest.URL()
	if url == "" {
		url = "redis://" + st.Addr()
	}
	d, err := store.Open(ctxT(t), store.Options{URL: url, Namespace: st.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	return d
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// snapshot is what a replay may change: the activations and the audit head.
type snapshot struct {
	activations int64
	auditSeq    int64
	auditHash   string
}

func snap(t *testing.T, st *store.Store) snapshot {
	t.Helper()
	ctx := ctxT(t)
	n, err := st.Client().ZCard(ctx, st.Key("activations")).Result()
	if err != nil {
		t.Fatal(err)
	}
	storetest.Seal(t, st)
	h, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{n, h.Seq, h.Hash}
}

func TestReplayRecordsOnceAcrossReplaysAndReplicas(t *testing.T) {
	ctx := ctxT(t)
	st := storetest.Open(t, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "server.journal")
	j := open(t, path, st)
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("Open left files: %v", files)
	}
	if _, err := journal.Open(journal.Options{Path: filepath.Join(dir, "missing", "server.journal")}); err == nil {
		t.Fatal("Open of a journal in a missing directory succeeded")
	}
	e, err := j.Append(entry("smoke on 3"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.ID, "dg-") || e.Host == "" {
		t.Fatalf("appended entry id %q host %q", e.ID, e.Host)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), "\n"); n != 1 {
		t.Fatalf("journal has %d lines, want 1:\n%s", n, raw)
	}
	if p, err := j.Pending(); err != nil || len(p) != 1 || p[0].ID != e.ID {
		t.Fatalf("Pending = %v, %v", p, err)
	}

	before := snap(t, st)
	res, err := j.Replay(ctx)
	if err != nil || res.Recorded != 1 || res.Already != 0 || len(res.Activations) != 1 {
		t.Fatalf("first replay = %+v, %v", res, err)
	}
	after := snap(t, st)
	// Two task.assigned, one task.ack, one plan.triggered.
	if after.activations != before.activations+1 || after.auditSeq != before.auditSeq+4 {
		t.Fatalf("after replay %+v, before %+v", after, before)
	}
	num, _ := store.ParseID("A", res.Activations[0])
	act, err := st.Activation(ctx, num)
	if err != nil {
		t.Fatal(err)
	}
	if act.Plan != "fire-evacuation" || act.Site != "harbour" || act.TriggeredBy != "farid" || !act.Created.Equal(at) ||
		act.Status != "active" || len(act.Tasks) != 2 || act.Note != "smoke on 3" || act.Target != 5*time.Minute {
		t.Fatalf("activation = %+v", act)
	}
	tasks, err := st.Tasks(ctx, act.Tasks)
	if err != nil || len(tasks) != 2 {
		t.Fatalf("tasks = %v, %v", tasks, err)
	}
	if tasks[0].Status != store.TaskAcknowledged || tasks[0].AckedBy != "amara" || !tasks[0].AckedAt.Equal(at.Add(40*time.Second)) {
		t.Errorf("acked task = %+v", tasks[0])
	}
	if tasks[1].Status != store.TaskOpen || tasks[1].Assignee != "farid" || tasks[1].Step != 0 {
		t.Errorf("open task = %+v", tasks[1])
	}
	if n, _ := st.PendingTimers(ctx); n != 1 {
		t.Errorf("pending timers = %d, want 1 (the open task's escalation)", n)
	}
	if open, _ := st.OpenTasksFor(ctx, "farid"); len(open) != 1 || open[0] != tasks[1].Num {
		t.Errorf("farid's open tasks = %v", open)
	}
	for _, tl := range []func() ([]store.TimelineEntry, error){
		func() ([]store.TimelineEntry, error) { return st.ActivationTimeline(ctx, num) },
		func() ([]store.TimelineEntry, error) { return st.TaskTimeline(ctx, tasks[1].Num) },
	} {
		entries, err := tl()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, te := range entries {
			if te.Kind == "degraded" && strings.Contains(te.Text, "created in degraded mode") && strings.Contains(te.Text, e.ID) {
				found = true
			}
		}
		if !found {
			t.Errorf("no degraded-mode timeline entry naming %s in %+v", e.ID, entries)
		}
	}
	if v := storetest.SealAndVerify(t, st); !v.OK() {
		t.Fatalf("audit verify: %v", v.Problem)
	}

	// The same process again: nothing left to replay.
	res, err = j.Replay(ctx)
	if err != nil || res.Recorded+res.Already+res.Bad != 0 {
		t.Fatalf("second replay = %+v, %v", res, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("active journal still there after replay: %v", err)
	}
	done, _ := filepath.Glob(path + ".*.replayed")
	pending, _ := filepath.Glob(path + ".*.pending")
	if len(done) != 1 || len(pending) != 0 {
		t.Fatalf("replayed files %v, pending %v", done, pending)
	}

	// A second replica with a copy of the same journal, its own client.
	st2 := second(t, st)
	path2 := filepath.Join(t.TempDir(), "server.journal")
	if err := os.WriteFile(path2, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	j2 := open(t, path2, st2)
	res, err = j2.Replay(ctx)
	if err != nil || res.Recorded != 0 || res.Already != 1 || res.Activations[0] != act.ID() {
		t.Fatalf("second replica's replay = %+v, %v", res, err)
	}
	if s := snap(t, st); s != after {
		t.Fatalf("second replica changed the records: %+v, want %+v", s, after)
	}
}

func TestReplayWaitsForRedisAndKeepsWhatArrivesMeanwhile(t *testing.T) {
	ctx := ctxT(t)
	live := storetest.Open(t, nil)
	path := filepath.Join(t.TempDir(), "server.journal")
	j := open(t, path, dead(t, live))
	if _, err := j.Append(entry("first")); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Replay(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("replay into a dead store: %v, want ErrUnavailable", err)
	}
	// The line was taken aside and stays pending; a new line goes to a
	// fresh active file.
	if _, err := j.Append(entry("second")); err != nil {
		t.Fatal(err)
	}
	if p, err := j.Pending(); err != nil || len(p) != 2 {
		t.Fatalf("pending = %d entries, %v", len(p), err)
	}

	j2 := open(t, path, live) // the same file, Redis back
	res, err := j2.Replay(ctx)
	if err != nil || res.Recorded != 2 {
		t.Fatalf("replay after the outage = %+v, %v", res, err)
	}
	if p, _ := j2.Pending(); len(p) != 0 {
		t.Fatalf("still pending: %v", p)
	}
}

func TestReplaySkipsATornLine(t *testing.T) {
	ctx := ctxT(t)
	st := storetest.Open(t, nil)
	path := filepath.Join(t.TempDir(), "server.journal")
	j := open(t, path, st)
	if _, err := j.Append(entry("whole")); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write leaves half a line.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"id":"dg-torn","at":"2026-11-28T08:0`)
	_ = f.Close()
	res, err := j.Replay(ctx)
	if err != nil || res.Recorded != 1 || res.Bad != 1 {
		t.Fatalf("replay = %+v, %v", res, err)
	}
}

// Appends racing replays: every entry is recorded exactly once.
func TestAppendsDuringReplaysAreRecordedOnce(t *testing.T) {
	ctx := ctxT(t)
	st := storetest.Open(t, nil)
	path := filepath.Join(t.TempDir(), "server.journal")
	j := open(t, path, st)
	const n = 30
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if _, err := j.Append(entry("racing")); err != nil {
				t.Error(err)
			}
		}
	}()
	stop := make(chan struct{})
	replayed := make(chan int)
	go func() {
		total := 0
		for {
			select {
			case <-stop:
				replayed <- total
				return
			default:
			}
			res, err := j.Replay(ctx)
			if err != nil {
				t.Error(err)
			}
			total += res.Recorded
		}
	}()
	wg.Wait()
	close(stop)
	total := <-replayed
	res, err := j.Replay(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total += res.Recorded
	if s := snap(t, st); total != n || s.activations != n {
		t.Fatalf("recorded %d, activations %d, want %d", total, s.activations, n)
	}
}

func TestRunReplaysWhenRedisAnswers(t *testing.T) {
	ctx := ctxT(t)
	st := storetest.Open(t, nil)
	path := filepath.Join(t.TempDir(), "server.journal")
	j := open(t, path, st)
	if _, err := j.Append(entry("run")); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- j.Run(rctx) }()
	defer func() { cancel(); <-done }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	// Pending empties as soon as a replay moves the file aside, before it
	// has recorded anything: wait for the record itself too.
	replayed := func() bool {
		p, err := j.Pending()
		return err == nil && len(p) == 0 && snap(t, st).activations == 1
	}
	for !replayed() {
		select {
		case <-ctx.Done():
			t.Fatal("Run did not replay the journal")
		case <-tick.C:
		}
	}
}

// The replay memory survives a restart: what AppendSeen wrote is read
// back by the next Open, without the lines that expired meanwhile.
func TestSeenSurvivesARestart(t *testing.T) {
	now := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "server.journal")
	j, err := journal.Open(journal.Options{Path: path, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.AppendSeen("slack:seen:a", now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := j.AppendSeen("slack:seen:b", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	later := now.Add(2 * time.Minute)
	j2, err := journal.Open(journal.Options{Path: path, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	got := j2.Seen()
	if len(got) != 1 || !got["slack:seen:a"].Equal(now.Add(5*time.Minute)) {
		t.Fatalf("seen after restart = %v, want only slack:seen:a", got)
	}
	// Once everything expired the file is gone.
	if _, err := journal.Open(journal.Options{Path: path, Now: func() time.Time { return now.Add(time.Hour) }}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(j.SeenPath()); !os.IsNotExist(err) {
		t.Fatalf("expired replay memory still on disk: %v", err)
	}
}
