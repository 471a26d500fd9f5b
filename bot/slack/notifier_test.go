package slack

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// notifyAsync calls Notify in a goroutine (it waits for the post) and
// returns once queued holds (the post is queued, or made), so posts
// started one after another queue in order. Its error arrives on errs.
func notifyAsync(t *testing.T, e *env, errs chan<- error, m notify.Message, queued func() bool) {
	t.Helper()
	go func() {
		_, err := e.a.Notify(context.Background(), m)
		errs <- err
	}()
	waitCond(t, e.fake, queued)
}

// waitCond waits until cond holds: it is checked at every change of the
// fake and every 10 ms (the adapter's counters change silently). It
// fails the test after 10 s.
func waitCond(t *testing.T, fake *fakeslack.Server, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-fake.Changed():
		case <-tick.C:
		case <-timeout.C:
			t.Fatalf("condition not met after 10 s; fake saw %d requests", len(fake.Requests()))
		}
	}
}

// Notify does not report a post delivered before Slack has it: while the
// fake holds the call, Notify has not returned; once the fake accepts
// it, Notify returns nil.
func TestNotifyReturnsOnlyOnceSlackHasThePost(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Hold()
	type result struct {
		retry bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		retry, err := e.a.Notify(context.Background(), notify.Message{Channel: notify.Chat, Site: "harbour", Kind: "broadcast", Text: "held note"})
		done <- result{retry, err}
	}()
	if err := e.fake.WaitFor(e.ctx(), func() bool { return e.fake.Held() == 1 }); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		t.Fatalf("Notify returned (%v, %v) while Slack had not answered", r.retry, r.err)
	default:
	}
	if n := len(postsTo(e.fake, "C0HARBOUR")); n != 0 {
		t.Fatalf("%d posts recorded while held", n)
	}
	e.fake.Release()
	r := <-done
	if r.err != nil || r.retry {
		t.Fatalf("Notify = (%v, %v), want (false, nil)", r.retry, r.err)
	}
	if posts := postsTo(e.fake, "C0HARBOUR"); len(posts) != 1 || posts[0].Text != "held note" {
		t.Fatalf("posts = %+v, want the one note", posts)
	}
}

// Through the outbox: while Slack holds the post, the message stays in
// its lane (not recorded sent); once Slack accepts it, it leaves.
func TestOutboxKeepsPostUntilSlackHasIt(t *testing.T) {
	e := newEnv(t, nil)
	ctx := e.ctx()
	if _, err := e.st.Enqueue(ctx, store.OutMessage{Key: "note:1", Channel: notify.Chat, Site: "harbour", Kind: "broadcast", Text: "outbox note"}); err != nil {
		t.Fatal(err)
	}
	e.fake.Hold()
	drained := make(chan error, 1)
	go func() {
		_, err := e.del.Drain(ctx)
		drained <- err
	}()
	if err := e.fake.WaitFor(ctx, func() bool { return e.fake.Held() == 1 }); err != nil {
		t.Fatal(err)
	}
	if n, err := e.st.OutboxLen(ctx); err != nil || n != 1 {
		t.Fatalf("outbox holds %d (%v) while Slack has not answered, want 1", n, err)
	}
	e.fake.Release()
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if n, err := e.st.OutboxLen(ctx); err != nil || n != 0 {
		t.Fatalf("outbox holds %d (%v) after the post, want 0", n, err)
	}
	if n := len(postsTo(e.fake, "C0HARBOUR")); n != 1 {
		t.Fatalf("%d posts, want 1", n)
	}
}

// A post that cannot reach Slack before the caller's deadline (its
// channel is paced) is refused at once, retry true with a RetryAfter,
// and never posted later.
func TestNotifyBusyChannelRefusesWithinDeadline(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.a.Notify(context.Background(), notify.Message{Channel: notify.Chat, Site: "harbour", Kind: "broadcast", Text: "first"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	retry, err := e.a.Notify(ctx, notify.Message{Channel: notify.Chat, Site: "harbour", Kind: "broadcast", Text: "second"})
	var ra interface{ RetryAfter() time.Duration }
	if !retry || !errors.Is(err, ErrChannelBusy) || !errors.As(err, &ra) || ra.RetryAfter() <= 0 {
		t.Fatalf("Notify = (%v, %v), want retry with ErrChannelBusy and a RetryAfter", retry, err)
	}
	e.clk.Advance(5 * time.Second)
	if err := e.a.Flush(e.ctx()); err != nil {
		t.Fatal(err)
	}
	if posts := postsTo(e.fake, "C0HARBOUR"); len(posts) != 1 || posts[0].Text != "first" {
		t.Fatalf("posts = %+v, want only the first", posts)
	}
}

// A caller that gives up while its post waits in the queue abandons it:
// the post is never made.
func TestNotifyAbandonedPostIsNotMade(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.a.Notify(context.Background(), notify.Message{Channel: notify.Chat, Site: "harbour", Kind: "broadcast", Text: "first"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.a.Notify(ctx, notify.Message{Channel: notify.Chat, Site: "harbour", Kind: "broadcast", Text: "given up"})
		done <- err
	}()
	// It waits on the adapter's clock for its turn.
	waitCond(t, e.fake, func() bool { return e.clk.Waiters() > 0 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Notify = %v, want context.Canceled", err)
	}
	e.clk.Advance(5 * time.Second)
	if err := e.a.Flush(e.ctx()); err != nil {
		t.Fatal(err)
	}
	if posts := postsTo(e.fake, "C0HARBOUR"); len(posts) != 1 {
		t.Fatalf("posts = %+v, want only the first", posts)
	}
}

// A Deliverer stopped (with its Slack adapter, as muster serve stops)
// while a post waits its turn leaves the message in the outbox, and
// another Deliverer posts it: each message reaches Slack exactly once.
func TestStoppedDelivererLeavesPostForAnother(t *testing.T) {
	e := newEnv(t, nil)
	ctx := e.ctx()
	for i := 1; i <= 2; i++ {
		if _, err := e.st.Enqueue(ctx, store.OutMessage{Key: "note:" + strconv.Itoa(i), Channel: notify.Chat, Site: "harbour",
			Kind: "broadcast", Text: "note " + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- e.del.Run(runCtx) }()
	// One post is made; the other waits a second on the adapter's
	// (fake) clock, which this test does not move.
	waitCond(t, e.fake, func() bool { return len(postsTo(e.fake, "C0HARBOUR")) == 1 && e.a.Pending() == 1 })
	stop()
	e.a.Close()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if n, err := e.st.OutboxLen(ctx); err != nil || n != 1 {
		t.Fatalf("outbox holds %d (%v) after the stop, want the unposted message", n, err)
	}
	first := postsTo(e.fake, "C0HARBOUR")[0].Text

	// Another replica: its own adapter on the same Slack.
	a2, err := New(Options{Service: e.svc, Store: e.st, Config: e.cfg, BotToken: testBotToken, SigningSecret: testSecret,
		APIURL: e.slack.URL + "/api", Clock: e.clk, Logger: zaptest.NewLogger(t), HTTPClient: e.slack.Client()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a2.Close)
	disp := notify.NewDispatcher(nil)
	disp.AddChat(a2)
	d2 := notify.NewDelivererWith(notify.DelivererOptions{Store: e.st, Out: disp, Clock: e.clk, Lease: e.cfg.Engine.Lease.D()})
	e.clk.Advance(time.Minute) // past the retry's backoff
	if n, err := d2.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("second deliverer handled %d (%v), want 1", n, err)
	}
	posts := postsTo(e.fake, "C0HARBOUR")
	if len(posts) != 2 || posts[1].Text == first {
		t.Fatalf("posts = %+v, want each note once", posts)
	}
	if n, err := e.st.OutboxLen(ctx); err != nil || n != 0 {
		t.Fatalf("outbox holds %d (%v), want 0", n, err)
	}
}
