package discord_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/muster-ops/muster/bot/discord"
	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/fakediscord"
	"github.com/muster-ops/muster/internal/lease"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// deadLeases is a replica's way to the leases: once dead, every call
// fails, so in particular the lease it holds is never released.
type deadLeases struct {
	lease.Leases
	dead atomic.Bool
}

var errDead = errors.New("replica dead")

func (d *deadLeases) AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (store.Lease, error) {
	if d.dead.Load() {
		return store.Lease{}, errDead
	}
	return d.Leases.AcquireLease(ctx, name, token, ttl)
}

func (d *deadLeases) RenewLease(ctx context.Context, name, token string, ttl time.Duration) (store.Lease, error) {
	if d.dead.Load() {
		return store.Lease{}, errDead
	}
	return d.Leases.RenewLease(ctx, name, token, ttl)
}

func (d *deadLeases) ReleaseLease(ctx context.Context, name, token string) (bool, error) {
	if d.dead.Load() {
		return false, errDead
	}
	return d.Leases.ReleaseLease(ctx, name, token)
}

// Two replicas share one Redis and one bot: only the holder of the
// gateway lease opens the gateway. Killed without releasing the lease,
// the holder's connection drops and the other replica identifies within
// 15 s (with a short lease here, within about ttl*4/3).
func TestGatewayOneConnectionAcrossReplicas(t *testing.T) {
	const ttl = 900 * time.Millisecond
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, nil)
	fake := fakediscord.New(token, appID)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	gw := fakediscord.NewGateway(token)
	gws := httptest.NewServer(gw)
	t.Cleanup(gws.Close)
	fake.EnableGateway("ws://" + gws.Listener.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// mu guards held.
	var mu sync.Mutex
	held := map[int]bool{}
	most := 0
	type replica struct {
		leases *deadLeases
		stop   context.CancelFunc
		done   chan error
	}
	var reps [2]*replica
	for i := range reps {
		peer := st
		if i > 0 {
			peer = storetest.OpenPeer(t, st, nil)
		}
		dl := &deadLeases{Leases: peer}
		a, err := discord.New(discord.Options{
			Service: commands.New(commands.Options{Config: cfg, Store: peer}), Store: peer, Config: cfg,
			BotToken: token, AppID: appID, APIURL: api.URL, Logger: zaptest.NewLogger(t).Named([]string{"a", "b"}[i]),
			Leases: dl, LeaseTTL: ttl, OnLease: func(h bool) {
				mu.Lock()
				defer mu.Unlock()
				held[i] = h
				n := 0
				for _, x := range held {
					if x {
						n++
					}
				}
				most = max(most, n)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		r := &replica{leases: dl, stop: stop, done: make(chan error, 1)}
		go func() { r.done <- a.Run(rctx) }()
		reps[i] = r
	}
	t.Cleanup(func() {
		for _, r := range reps {
			r.stop()
			<-r.done
		}
	})
	waitGateway := func(cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-gw.Changed():
			case <-ctx.Done():
				id, re := gw.Sessions()
				t.Fatalf("gateway: %d open, %d identified, %d resumed", gw.Connections(), id, re)
			}
		}
	}
	waitGateway(func() bool { return gw.Connections() == 1 })
	holder := -1
	mu.Lock()
	for i, h := range held {
		if h {
			holder = i
		}
	}
	mu.Unlock()
	if holder < 0 {
		t.Fatal("a gateway is open but no replica holds the lease")
	}
	if id, _ := gw.Sessions(); id != 1 {
		t.Fatalf("%d gateway sessions identified by two replicas, want 1", id)
	}

	killed := time.Now()
	reps[holder].leases.dead.Store(true)
	reps[holder].stop()
	waitGateway(func() bool { id, _ := gw.Sessions(); return id == 2 && gw.Connections() == 1 })
	took := time.Since(killed)
	t.Logf("the other replica identified %v after the holder's death (lease %v)", took.Round(time.Millisecond), ttl)
	if took > 15*time.Second {
		t.Errorf("takeover took %v, want within 15 s", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if !held[1-holder] || most != 1 {
		t.Errorf("held %v, most at once %d: want the standby alone", held, most)
	}
}
