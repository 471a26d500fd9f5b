package notify_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// sink records what it is asked to deliver, and when.
type sink struct {
	mu   sync.Mutex
	msgs []notify.Message
	at   []time.Time
	ch   chan struct{}
}

func newSink() *sink { return &sink{ch: make(chan struct{}, 1000)} }

func (s *sink) Notify(_ context.Context, m notify.Message) (bool, error) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	s.ch <- struct{}{}
	return false, nil
}

// wait blocks until n messages arrived (in all), or fails the test.
func (s *sink) wait(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got := len(s.msgs)
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-s.ch:
		case <-deadline.C:
			t.Fatalf("%d of %d messages after %s", got, n, timeout)
		}
	}
}

func smsBatch(n int, prefix string) []store.OutMessage {
	out := make([]store.OutMessage, n)
	for i := range out {
		out[i] = store.OutMessage{Key: fmt.Sprintf("%s:%d", prefix, i), Channel: notify.SMS, To: "amara", Kind: "test", Text: fmt.Sprintf("%s %d", prefix, i)}
	}
	return out
}

func run(t *testing.T, d *notify.Deliverer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// A paced SMS call-out does not hold up chat: a chat post queued behind
// twenty SMS at one per second goes out at once.
func TestChatNotHeldBehindPacedSMS(t *testing.T) {
	st := storetest.Open(t, nil)
	ctx := context.Background()
	msgs := append(smsBatch(20, "sms"), store.OutMessage{Key: "chat:1", Channel: notify.Chat, Site: "harbour", Kind: "test", Text: "chat post"})
	if _, err := st.Enqueue(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	out := newSink()
	d := notify.NewDelivererWith(notify.DelivererOptions{Store: st, Out: out, Pacing: map[string]notify.Pacing{notify.SMS: {Sender: "+447700900999", Rate: 1}}})
	run(t, d)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out.wait(t, 1, time.Until(deadline))
		out.mu.Lock()
		var chat bool
		sms := 0
		for _, m := range out.msgs {
			chat = chat || m.Channel == notify.Chat
			if m.Channel == notify.SMS {
				sms++
			}
		}
		out.mu.Unlock()
		if chat {
			if sms > 5 {
				t.Fatalf("the chat post went out after %d paced SMS", sms)
			}
			return
		}
		out.wait(t, sms+1, time.Until(deadline))
	}
}

// Two processes pacing one sender share its rate through Redis: 30 SMS at
// 20 per second take (30 - burst) / 20 seconds however many
// processes send them.
func TestPacingIsSharedAcrossProcesses(t *testing.T) {
	st := storetest.Open(t, nil)
	ctx := context.Background()
	if _, err := st.Enqueue(ctx, smsBatch(30, "callout")...); err != nil {
		t.Fatal(err)
	}
	out := newSink()
	pacing := map[string]notify.Pacing{notify.SMS: {Sender: "+447700900999", Rate: 20, Burst: 3}}
	for _, name := range []string{"A", "B"} {
		run(t, notify.NewDelivererWith(notify.DelivererOptions{Store: st, Out: out, Consumer: name, Pacing: pacing}))
	}
	out.wait(t, 30, 20*time.Second)
	out.mu.Lock()
	defer out.mu.Unlock()
	span := out.at[len(out.at)-1].Sub(out.at[0])
	if min := 1300 * time.Millisecond; span < min { // (30-3)/20 s, less timer jitter
		t.Fatalf("30 SMS at 20/s went out in %s, faster than %s", span, min)
	}
	seen := map[string]bool{}
	for _, m := range out.msgs {
		if seen[m.Key] {
			t.Fatalf("%s sent twice", m.Key)
		}
		seen[m.Key] = true
	}
}

// A sender's lane holds at most four hours of sending: beyond it messages
// are refused, and the coordinators are told once.
func TestLaneRefusesBeyondFourHours(t *testing.T) {
	st := storetest.Open(t, nil)
	ctx := context.Background()
	if _, err := st.Enqueue(ctx, smsBatch(20, "big")...); err != nil {
		t.Fatal(err)
	}
	out := newSink()
	var mu sync.Mutex
	refused := 0
	// 0.001/s: 14 messages in 4 hours.
	d := notify.NewDelivererWith(notify.DelivererOptions{Store: st, Out: out, Coordinators: []string{"jonah"},
		Pacing: map[string]notify.Pacing{notify.SMS: {Sender: "+447700900999", Rate: 0.001}}})
	d.OnDeliver = func(r notify.Delivered) {
		if r.Outcome == notify.OutcomeRefused {
			mu.Lock()
			refused++
			mu.Unlock()
		}
	}
	if got := d.Capacity(notify.SMS); got != 14 {
		t.Fatalf("capacity %d, want 14", got)
	}
	for range 2 {
		if _, err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if refused != 6 {
		t.Fatalf("%d refused, want 6", refused)
	}
	queued, capacity, err := d.Backlog(ctx, notify.SMS)
	if err != nil || capacity != 14 || queued+int64(countChannel(out, notify.SMS)) != 14 {
		t.Fatalf("backlog %d/%d (err %v), %d sent", queued, capacity, err, countChannel(out, notify.SMS))
	}
	var told []string
	for _, m := range out.msgs {
		if m.Channel == notify.Chat {
			told = append(told, m.To+": "+m.Text)
		}
	}
	if len(told) != 1 || !strings.HasPrefix(told[0], "jonah: muster could not queue 6 sms message(s)") {
		t.Fatalf("coordinators told: %q", told)
	}
}

func countChannel(s *sink, ch string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		if m.Channel == ch {
			n++
		}
	}
	return n
}

// A send that may succeed later is retried after the backoff; one that
// never will is not.
func TestRetryAndGiveUp(t *testing.T) {
	st := storetest.Open(t, nil)
	ctx := context.Background()
	if _, err := st.Enqueue(ctx, smsBatch(2, "r")...); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	attempts := map[string]int{}
	out := notify.NotifierFunc(func(_ context.Context, m notify.Message) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		attempts[m.Key]++
		if m.Key == "r:0" && attempts[m.Key] < 3 {
			return true, fmt.Errorf("429")
		}
		if m.Key == "r:1" {
			return false, fmt.Errorf("21211 invalid number")
		}
		return false, nil
	})
	var outcomes []string
	d := notify.NewDelivererWith(notify.DelivererOptions{Store: st, Out: out, Backoff: func(int) time.Duration { return -time.Millisecond }})
	d.OnDeliver = func(r notify.Delivered) { outcomes = append(outcomes, r.Msg.Key+" "+r.Outcome) }
	for range 5 {
		if _, err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if attempts["r:0"] != 3 || attempts["r:1"] != 1 {
		t.Fatalf("attempts %v, want r:0 three times, r:1 once", attempts)
	}
	if n, err := st.OutboxLen(ctx); err != nil || n != 0 {
		t.Fatalf("outbox holds %d (err %v)", n, err)
	}
	t.Log(outcomes)
}

// A notifier gets a deadline inside the message's lease (it must be done
// before another process may take the message over), and a notifier
// that runs out of it has its message put back for another attempt, not
// recorded sent.
func TestNotifierDeadlineInsideLease(t *testing.T) {
	st := storetest.Open(t, nil)
	ctx := context.Background()
	const lease = 400 * time.Millisecond
	var left time.Duration
	late := notify.NotifierFunc(func(ctx context.Context, _ notify.Message) (bool, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			return false, fmt.Errorf("no deadline")
		}
		left = time.Until(dl)
		<-ctx.Done() // a chat post waiting for its turn past the deadline
		return true, ctx.Err()
	})
	d := notify.NewDeliverer(st, late, nil, "one", lease)
	if _, err := st.Enqueue(ctx, store.OutMessage{Key: "k:1", Channel: notify.Chat, Site: "harbour", Kind: "test", Text: "late"}); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("drain: %d, %v", n, err)
	}
	if left <= 0 || left > lease*3/4 {
		t.Fatalf("notifier had %v of a %v lease, want at most 3/4 of it", left, lease)
	}
	// Not recorded sent: back on its lane, untaken.
	if n, err := st.OutboxLen(ctx); err != nil || n != 1 {
		t.Fatalf("outbox holds %d (%v), want the message back", n, err)
	}
}

// A notifier that answers ErrStale (the task closed while the message
// waited its turn) has the message dropped: off its lane, not retried,
// not recorded sent.
func TestStaleMessageIsDropped(t *testing.T) {
	st := storetest.Open(t, nil)
	ctx := context.Background()
	if _, err := st.Enqueue(ctx, store.OutMessage{Key: "T-1:0:chat", Channel: notify.Chat, To: "amara", Kind: "task", Ref: "T-1", Text: "T-1"}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	d := notify.NewDeliverer(st, notify.NotifierFunc(func(context.Context, notify.Message) (bool, error) {
		calls++
		return false, notify.ErrStale
	}), nil, "", time.Minute)
	var got []notify.Delivered
	d.OnDeliver = func(r notify.Delivered) { got = append(got, r) }
	for range 2 {
		if _, err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 || len(got) != 1 || got[0].Outcome != notify.OutcomeDropped || got[0].Err != nil {
		t.Fatalf("%d calls, outcomes %+v; want one attempt, dropped", calls, got)
	}
	if n, err := st.OutboxLen(ctx); err != nil || n != 0 {
		t.Fatalf("outbox holds %d (%v), want 0", n, err)
	}
}

// holdingSink holds every SMS until released, and records chat at once.
type holdingSink struct {
	release chan struct{}
	sms     chan notify.Message
	chat    chan notify.Message
}

func (h *holdingSink) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if m.Channel == notify.Chat {
		h.chat <- m
		return false, nil
	}
	h.sms <- m
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return false, nil
}

// A paced lane keeps as many sends in flight as its rate needs (at 1,000
// a second, 100: a provider answering in 100 ms still keeps up), more than
// the default 64 workers. Once they are all busy (a slow provider) the
// outbox's reading is not held up: the lane's next messages wait in it,
// and a chat post queued after them goes out at once.
func TestChatNotHeldBehindBusyPacedWorkers(t *testing.T) {
	st := storetest.Open(t, nil)
	ctx := context.Background()
	if _, err := st.Enqueue(ctx, smsBatch(130, "busy")...); err != nil {
		t.Fatal(err)
	}
	out := &holdingSink{release: make(chan struct{}), sms: make(chan notify.Message, 200), chat: make(chan notify.Message, 1)}
	defer close(out.release)
	d := notify.NewDelivererWith(notify.DelivererOptions{Store: st, Out: out,
		Pacing: map[string]notify.Pacing{notify.SMS: {Sender: "+447700900999", Rate: 1000}}})
	run(t, d)
	for i := range 100 {
		select {
		case <-out.sms: // one more of the lane's workers is now busy
		case <-time.After(10 * time.Second):
			t.Fatalf("%d SMS in flight at once, want 100", i)
		}
	}
	if _, err := st.Enqueue(ctx, store.OutMessage{Key: "chat:busy", Channel: notify.Chat, Site: "harbour", Kind: "test", Text: "chat post"}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-out.chat:
		if m.Text != "chat post" {
			t.Fatalf("chat: %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the chat post waited behind SMS whose only worker was busy")
	}
}
