package store_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/internal/redistest"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// Only errors that say Redis cannot be reached count as an outage; a
// timeout (overload) never does by itself.
func TestUnreachable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("no route to host")}, true},
		{io.EOF, true},
		{redisErr("CLUSTERDOWN The cluster is down"), true},
		{redisErr("LOADING Redis is loading the dataset in memory"), true},
		{context.DeadlineExceeded, false},
		{&net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, false},
		{redis.ErrPoolTimeout, false},
		{redisErr("NOREPLICAS Not enough good replicas to write."), false},
		{store.ErrNotReplicated, false},
		{context.Canceled, false},
		{nil, false},
	} {
		if got := store.Unreachable(tc.err); got != tc.want {
			t.Errorf("Unreachable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// redisErr is an error reply of Redis (a redis.Error).
type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

var _ redis.Error = redisErr("")

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func openOn(t *testing.T, url string) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: url, Namespace: storetest.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("%s: not within 20s", what)
		case <-tick.C:
		}
	}
}

// A killed Redis (connections refused) is an outage at once; a frozen one
// (connections hang) only after DownAfter unanswered probes in a row; and
// readiness says why in one line, then recovers when Redis answers.
func TestHealthTellsAnOutageFromSlowness(t *testing.T) {
	r := redistest.StartSingle(t)
	st := openOn(t, r.URL())
	h := st.Health()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := st.Ready(ctx); err != nil || h.Down() {
		t.Fatalf("ready = %v, down %v; want ready", err, h.Down())
	}
	var changes []bool
	h.OnChange(func(down bool) { changes = append(changes, down) })

	r.Pause()
	start := time.Now()
	// A probe without an answer is not an outage.
	if err := h.Check(ctx); err == nil || h.Down() {
		t.Fatalf("one unanswered probe: err %v, down %v; want an error and not down", err, h.Down())
	}
	if h.Confirm(ctx, context.DeadlineExceeded) {
		t.Fatal("a command's timeout was confirmed as an outage")
	}
	for range store.DownAfter - 1 {
		_ = h.Check(ctx)
	}
	if !h.Down() {
		t.Fatalf("%d unanswered probes in a row: not down", store.DownAfter)
	}
	if took := time.Since(start); took < time.Duration(store.DownAfter)*store.ProbeTimeout-100*time.Millisecond {
		t.Fatalf("down after %v", took)
	}
	r.Resume()
	waitFor(t, "ready after the resume", func() bool { return st.Ready(ctx) == nil })
	if h.Down() {
		t.Fatal("ready but still down")
	}

	r.Kill()
	// A refused connection is confirmed by one probe, at once.
	err := st.Client().Ping(ctx).Err()
	start = time.Now()
	if !h.Confirm(ctx, err) || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("Confirm(%v) after a kill: down %v in %v", err, h.Down(), time.Since(start))
	}
	rerr := st.Ready(ctx)
	if rerr == nil || !strings.HasPrefix(rerr.Error(), "redis unreachable: ") || strings.Contains(rerr.Error(), "\n") {
		t.Fatalf("Ready while killed = %v", rerr)
	}
	r.Restart()
	waitFor(t, "ready after the restart", func() bool { return st.Ready(ctx) == nil })
	want := []bool{false, true, false, true, false}
	if len(changes) != len(want) {
		t.Fatalf("state changes %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Fatalf("state changes %v, want %v", changes, want)
		}
	}
}

// With wait_replicas=1 and no replica, readiness says so; Redis answers,
// so it is no outage.
func TestReadyWithoutTheReplicas(t *testing.T) {
	r := redistest.StartSingle(t)
	st := openOn(t, r.URL()+"?wait_replicas=1")
	err := st.Ready(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "wait_replicas not met: ") || st.Health().Down() {
		t.Fatalf("Ready = %v, down %v; want wait_replicas not met, not down", err, st.Health().Down())
	}
}

// Starting with Redis down (StartDown): the store is there, degraded from
// the first second, and ready once Redis answers.
func TestStartDown(t *testing.T) {
	r := redistest.StartSingle(t)
	r.Kill()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := store.Open(ctx, store.Options{URL: r.URL(), Namespace: storetest.Namespace()}); err == nil {
		t.Fatal("Open without StartDown succeeded with Redis down")
	}
	st, err := store.Open(ctx, store.Options{URL: r.URL(), Namespace: storetest.Namespace(), StartDown: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Health().Down() || !strings.Contains(st.Health().Reason(), "connection refused") {
		t.Fatalf("down %v, reason %q", st.Health().Down(), st.Health().Reason())
	}
	go func() { _ = st.Health().Run(ctx) }()
	r.Restart()
	waitFor(t, "the store to find Redis", func() bool { return !st.Health().Down() })
	if err := st.Ready(ctx); err != nil {
		t.Fatal(err)
	}
}
