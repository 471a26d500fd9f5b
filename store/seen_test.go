package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/redistest"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// seenLog records what the store journals.
type seenLog struct {
	mu    sync.Mutex
	lines map[string]time.Time
}

func (l *seenLog) AppendSeen(name string, until time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lines == nil {
		l.lines = map[string]time.Time{}
	}
	l.lines[name] = until
	return nil
}

// While Redis is unreachable the replay check does not fail open: the
// process's own memory refuses a copy of a request it let through, the
// memory is journaled so a restarted process refuses it too, and when
// Redis returns the other replicas learn it.
func TestReplayCheckWhileRedisIsDown(t *testing.T) {
	r := redistest.StartSingle(t)
	ns := storetest.Namespace()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func() *store.Store {
		st, err := store.Open(ctx, store.Options{URL: r.URL(), Namespace: ns, StartDown: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	st := open()
	log := &seenLog{}
	st.UseSeenLog(log, nil)
	raise := func(st *store.Store, name string) error {
		g := store.NewReplayGuard(name, time.Minute)
		_, err := st.Guarded(g).RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "fire", Reporter: "farid", Text: "x"})
		return err
	}
	// Handled while Redis is up: remembered here as well.
	if err := raise(st, "test:seen:up"); err != nil {
		t.Fatal(err)
	}
	r.Kill()
	if err := raise(st, "test:seen:up"); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("copy of a request handled before the outage: %v, want ErrReplayed", err)
	}
	if err := raise(st, "test:seen:down"); !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrReplayed) {
		t.Fatalf("new request while down: %v, want ErrUnavailable (it goes on to degraded mode)", err)
	}
	if !st.Health().Down() {
		t.Fatal("not down after a refused connection")
	}
	if err := raise(st, "test:seen:down"); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("copy while down: %v, want ErrReplayed", err)
	}
	if dup, err := st.CheckReplay(ctx, store.NewReplayGuard("test:seen:down", time.Minute)); !dup || err != nil {
		t.Fatalf("CheckReplay of the copy while down = %v, %v", dup, err)
	}
	if _, ok := log.lines["test:seen:down"]; !ok || len(log.lines) != 1 {
		t.Fatalf("journaled %v, want the one request let through while down", log.lines)
	}

	// A restarted process, Redis still down, reads the journal.
	st2 := open()
	st2.UseSeenLog(&seenLog{}, log.lines)
	if err := raise(st2, "test:seen:down"); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("copy at a restarted process: %v, want ErrReplayed", err)
	}

	// Redis returns: another replica, which never saw the request, refuses
	// its copy too.
	r.Restart()
	go func() { _ = st.Health().Run(ctx) }()
	other := open()
	waitFor(t, "the request shared with the other replicas", func() bool {
		n, err := other.Client().Exists(ctx, other.Key("test", "seen", "down")).Result()
		return err == nil && n == 1
	})
	if err := raise(other, "test:seen:down"); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("copy at another replica after the outage: %v, want ErrReplayed", err)
	}
	if err := raise(other, "test:seen:new"); err != nil {
		t.Fatalf("a new request after the outage: %v", err)
	}
}
