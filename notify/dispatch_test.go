package notify_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// chatFake is a chat surface that fails its first `fails` posts, with
// retry as given, and takes the rest.
type chatFake struct {
	name  string // "" for a surface without a Name
	fails int
	retry bool
	stale bool // answers notify.ErrStale instead of taking a message
	// mu guards the fields that follow.
	mu    sync.Mutex
	calls int
	ids   []string
}

func (f *chatFake) Notify(_ context.Context, m notify.Message) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.ids = append(f.ids, m.ID)
	if f.calls <= f.fails {
		return f.retry, errors.New(f.name + " refused")
	}
	if f.stale {
		return false, notify.ErrStale
	}
	return false, nil
}

func (f *chatFake) count() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]string(nil), f.ids...)
}

// namedChat is a chatFake with a Name.
type namedChat struct{ *chatFake }

func (n namedChat) Name() string { return n.name }

var _ notify.Named = namedChat{}

// chatOutcomes drains the outbox (retries are due at once) until it is
// empty and returns each attempt's outcome.
func chatOutcomes(t *testing.T, st *store.Store, disp *notify.Dispatcher) []string {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Enqueue(ctx, store.OutMessage{Key: "INC-1:raised", Channel: notify.Chat, Site: "harbour", Kind: "incident", Ref: "INC-1", Text: "INC-1 raised"}); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		outcomes []string
	)
	d := notify.NewDelivererWith(notify.DelivererOptions{Store: st, Out: disp, Backoff: func(int) time.Duration { return -time.Millisecond }})
	d.OnDeliver = func(r notify.Delivered) {
		mu.Lock()
		defer mu.Unlock()
		outcomes = append(outcomes, r.Outcome)
	}
	for range 5 {
		if _, err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.OutboxLen(ctx); err != nil || n != 0 {
		t.Fatalf("outbox holds %d (err %v), want it delivered", n, err)
	}
	return outcomes
}

// With Slack and Discord both connected, a chat message one of them
// refuses (a busy channel) is retried on that one only: the other does
// not post it twice, and the refusing one gets it on the retry.
func TestDispatcherDeliversOncePerSurface(t *testing.T) {
	for _, named := range []bool{true, false} {
		t.Run(map[bool]string{true: "named", false: "by position"}[named], func(t *testing.T) {
			st := storetest.Open(t, nil)
			first := &chatFake{name: "slack"}
			second := &chatFake{name: "discord", fails: 1, retry: true}
			disp := notify.NewDispatcher(nil)
			disp.SetStore(st)
			if named {
				disp.AddChat(namedChat{first})
				disp.AddChat(namedChat{second})
			} else {
				disp.AddChat(first)
				disp.AddChat(second)
			}
			got := chatOutcomes(t, st, disp)
			if len(got) != 2 || got[0] != notify.OutcomeRetry || got[1] != notify.OutcomeSent {
				t.Fatalf("outcomes %v, want [retry sent]", got)
			}
			n1, ids1 := first.count()
			n2, ids2 := second.count()
			if n1 != 1 || n2 != 2 {
				t.Fatalf("first surface called %d times, second %d; want 1 and 2", n1, n2)
			}
			if ids1[0] == "" || ids2[0] != ids1[0] || ids2[1] != ids1[0] {
				t.Fatalf("message ids %q and %q, want one outbox id on every attempt", ids1, ids2)
			}
			taken, err := st.SurfacesTaken(context.Background(), ids1[0])
			if err != nil || len(taken) != 0 {
				t.Fatalf("surfaces record after delivery: %v (err %v), want it deleted with the message", taken, err)
			}
		})
	}
}

// A message every surface takes at once costs no retry; one surface that
// will never take it (a site without a Discord channel) is no reason to
// retry when another took it, but is when none did.
func TestDispatcherChatOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, second *chatFake
		want          []string
		calls         [2]int
	}{
		{"both take it", &chatFake{name: "slack"}, &chatFake{name: "discord"}, []string{notify.OutcomeSent}, [2]int{1, 1}},
		{"one fails for good", &chatFake{name: "slack", fails: 1}, &chatFake{name: "discord"}, []string{notify.OutcomeSent}, [2]int{1, 1}},
		{"both fail for good", &chatFake{name: "slack", fails: 1}, &chatFake{name: "discord", fails: 1}, []string{notify.OutcomeFailed}, [2]int{1, 1}},
		{"one for good, one may pass", &chatFake{name: "slack", fails: 1}, &chatFake{name: "discord", fails: 1, retry: true},
			[]string{notify.OutcomeRetry, notify.OutcomeSent}, [2]int{2, 2}},
		// A surface whose post found its task closed has nothing to post.
		{"both stale", &chatFake{name: "slack", stale: true}, &chatFake{name: "discord", stale: true}, []string{notify.OutcomeDropped}, [2]int{1, 1}},
		{"one stale, one takes it", &chatFake{name: "slack", stale: true}, &chatFake{name: "discord"}, []string{notify.OutcomeSent}, [2]int{1, 1}},
		{"one stale, one may pass", &chatFake{name: "slack", stale: true}, &chatFake{name: "discord", fails: 1, retry: true},
			[]string{notify.OutcomeRetry, notify.OutcomeSent}, [2]int{2, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storetest.Open(t, nil)
			disp := notify.NewDispatcher(nil)
			disp.SetStore(st)
			first, second := tc.first, tc.second
			disp.AddChat(namedChat{first})
			disp.AddChat(namedChat{second})
			got := chatOutcomes(t, st, disp)
			if len(got) != len(tc.want) {
				t.Fatalf("outcomes %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("outcomes %v, want %v", got, tc.want)
				}
			}
			n1, _ := first.count()
			n2, _ := second.count()
			if [2]int{n1, n2} != tc.calls {
				t.Fatalf("surfaces called %d and %d times, want %v", n1, n2, tc.calls)
			}
		})
	}
}

// With one chat surface nothing is remembered: a chat message costs no
// Redis round trip in the dispatcher. With two, it does.
func TestDispatcherSingleSurfaceNoRedis(t *testing.T) {
	st := storetest.Open(t, nil)
	ctx := context.Background()
	m := notify.Message{ID: "1700000000000-0", Key: "k", Channel: notify.Chat, Site: "harbour", Text: "hello"}

	two := notify.NewDispatcher(nil)
	two.SetStore(st)
	two.AddChat(namedChat{&chatFake{name: "slack"}})
	two.AddChat(namedChat{&chatFake{name: "discord"}})
	warm := m
	warm.ID = "1600000000000-0"
	if _, err := two.Notify(ctx, warm); err != nil { // connections open
		t.Fatal(err)
	}
	rt := storetest.CountRoundTrips(st)

	one := notify.NewDispatcher(nil)
	one.SetStore(st)
	one.AddChat(namedChat{&chatFake{name: "slack"}})
	if _, err := one.Notify(ctx, m); err != nil {
		t.Fatal(err)
	}
	if n := rt.Load(); n != 0 {
		t.Fatalf("one surface: %d Redis round trips, want none", n)
	}

	if _, err := two.Notify(ctx, m); err != nil {
		t.Fatal(err)
	}
	// One read of the record, one write per surface.
	if n := rt.Load(); n != 3 {
		t.Fatalf("two surfaces: %d Redis round trips, want 3", n)
	}
	taken, err := st.SurfacesTaken(ctx, m.ID)
	if err != nil || !taken["slack"] || !taken["discord"] || len(taken) != 2 {
		t.Fatalf("surfaces taken %v (err %v), want slack and discord", taken, err)
	}
}
