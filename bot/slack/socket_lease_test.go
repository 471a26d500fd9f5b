package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/internal/lease"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// killable is a replica's way to the leases: once cut, every call fails
// (the process is gone or cut off from Redis), so in particular it never
// releases what it holds.
type killable struct {
	lease.Leases
	cut atomic.Bool
}

var errCut = errors.New("replica cut off")

func (k *killable) AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (store.Lease, error) {
	if k.cut.Load() {
		return store.Lease{}, errCut
	}
	return k.Leases.AcquireLease(ctx, name, token, ttl)
}

func (k *killable) RenewLease(ctx context.Context, name, token string, ttl time.Duration) (store.Lease, error) {
	if k.cut.Load() {
		return store.Lease{}, errCut
	}
	return k.Leases.RenewLease(ctx, name, token, ttl)
}

func (k *killable) ReleaseLease(ctx context.Context, name, token string) (bool, error) {
	if k.cut.Load() {
		return false, errCut
	}
	return k.Leases.ReleaseLease(ctx, name, token)
}

// leaseLog records who held the Socket Mode lease, in order.
type leaseLog struct {
	mu     sync.Mutex // guards the fields that follow
	events []leaseEvent
	ch     chan struct{}
}

type leaseEvent struct {
	who  int
	held bool
	at   time.Time
}

func (l *leaseLog) add(who int, held bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, leaseEvent{who, held, time.Now()})
	if l.ch != nil {
		close(l.ch)
		l.ch = nil
	}
}

// holders replays the log: who holds now, and the most that ever held
// at once.
func (l *leaseLog) holders() (now []int, most int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	held := map[int]bool{}
	for _, e := range l.events {
		held[e.who] = e.held
		n := 0
		for _, h := range held {
			if h {
				n++
			}
		}
		most = max(most, n)
	}
	for who, h := range held {
		if h {
			now = append(now, who)
		}
	}
	return now, most
}

// waitHeldBy waits until exactly replica who holds the lease.
func (l *leaseLog) waitHeldBy(ctx context.Context, who int) error {
	for {
		l.mu.Lock()
		if l.ch == nil {
			l.ch = make(chan struct{})
		}
		ch := l.ch
		l.mu.Unlock()
		if now, _ := l.holders(); len(now) == 1 && now[0] == who {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *leaseLog) heldAt(who int, held bool) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.events) - 1; i >= 0; i-- {
		if e := l.events[i]; e.who == who && e.held == held {
			return e.at
		}
	}
	return time.Time{}
}

// connectionsOpened counts apps.connections.open calls that succeeded.
func connectionsOpened(f *fakeslack.Server) int {
	n := 0
	for _, r := range f.Requests() {
		if r.Method == "apps.connections.open" && r.Error == "" {
			n++
		}
	}
	return n
}

// Two replicas share one Redis and one Slack app: only the lease holder
// opens Socket Mode. When the holder dies without releasing the lease
// (killed) or is cut off from Redis while still running, the other
// replica connects once the lease has run out, within 15 s (here, with a
// short lease, within ttl*4/3 plus scheduling slack), and the two never
// hold it at once.
func TestSocketModeOneConnectionAcrossReplicas(t *testing.T) {
	for _, tc := range []struct {
		name string
		// dies: the process ends (its context is cancelled); otherwise it
		// keeps running but cannot reach Redis.
		dies bool
	}{{"holder killed", true}, {"holder cut off from Redis", false}} {
		t.Run(tc.name, func(t *testing.T) {
			const (
				appToken = "xapp-muster-lease"
				ttl      = 900 * time.Millisecond
			)
			cfg, err := configs.Example()
			if err != nil {
				t.Fatal(err)
			}
			st := storetest.Open(t, nil)
			fake := fakeslack.New(testBotToken)
			fake.EnableSocketMode(appToken)
			fs := httptest.NewServer(fake)
			t.Cleanup(fs.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			var log leaseLog
			type replica struct {
				a      *Adapter
				leases *killable
				stop   context.CancelFunc
				done   chan error
			}
			var reps [2]*replica
			for i := range reps {
				peer := st
				if i > 0 {
					peer = storetest.OpenPeer(t, st, nil)
				}
				k := &killable{Leases: peer}
				a, err := New(Options{
					Service: commands.New(commands.Options{Config: cfg, Store: peer}), Store: peer, Config: cfg,
					BotToken: testBotToken, AppToken: appToken, APIURL: fs.URL + "/api", HTTPClient: fs.Client(),
					Logger: zaptest.NewLogger(t).Named([]string{"a", "b"}[i]), ChangeBlock: 50 * time.Millisecond,
					Leases: k, LeaseTTL: ttl, OnLease: func(held bool) { log.add(i, held) },
				})
				if err != nil {
					t.Fatal(err)
				}
				rctx, stop := context.WithCancel(ctx)
				r := &replica{a: a, leases: k, stop: stop, done: make(chan error, 1)}
				go func() { r.done <- a.Run(rctx) }()
				reps[i] = r
			}
			t.Cleanup(func() {
				for _, r := range reps {
					r.stop()
					<-r.done
				}
			})

			ask := func() {
				t.Helper()
				ack, err := fake.SendSlashCommand(ctx, map[string]string{"command": "/muster", "text": "whoami", "user_id": "U0GRACE", "channel_id": "C0DEPOT"})
				if err != nil {
					t.Fatal(err)
				}
				var r Response
				if err := json.Unmarshal(ack, &r); err != nil || !strings.Contains(r.Text, "Grace") {
					t.Fatalf("whoami over the socket: %s (%v)", ack, err)
				}
			}
			if err := fake.WaitFor(ctx, fake.SocketConnected); err != nil {
				t.Fatal(err)
			}
			ask()
			now, most := log.holders()
			if len(now) != 1 || most != 1 {
				t.Fatalf("holders %v (most at once %d), want exactly one", now, most)
			}
			holder, standby := now[0], 1-now[0]
			if n := connectionsOpened(fake); n != 1 {
				t.Fatalf("%d Socket Mode connections opened by two replicas, want 1", n)
			}

			killed := time.Now()
			reps[holder].leases.cut.Store(true)
			if tc.dies {
				reps[holder].stop()
			}
			if err := log.waitHeldBy(ctx, standby); err != nil {
				t.Fatalf("standby never took over: %v", err)
			}
			took := log.heldAt(standby, true).Sub(killed)
			if err := fake.WaitFor(ctx, func() bool { return fake.SocketConnected() && connectionsOpened(fake) == 2 }); err != nil {
				t.Fatalf("standby did not connect: %v (%d opened)", err, connectionsOpened(fake))
			}
			ask()
			t.Logf("takeover %v after the holder's death (lease %v)", took.Round(time.Millisecond), ttl)
			if took > 15*time.Second {
				t.Errorf("takeover took %v, want within 15 s", took)
			}
			if !tc.dies {
				// The cut-off holder let go at its lease's end, before the
				// standby could acquire it.
				if gave, got := log.heldAt(holder, false), log.heldAt(standby, true); gave.IsZero() || gave.After(got) {
					t.Errorf("cut-off holder let go at %v, standby took it at %v", gave, got)
				}
			}
			if _, most := log.holders(); most != 1 {
				t.Errorf("%d replicas held the lease at once", most)
			}
			if n := connectionsOpened(fake); n != 2 {
				t.Errorf("%d Socket Mode connections opened, want 2 (one per holder)", n)
			}
		})
	}
}
