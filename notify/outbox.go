package notify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/logging"
	"github.com/muster-ops/muster/store"
)

// Deliverer drains the durable outbox (see store/outbox.go): it reads
// every message a transition wrote to Redis through the outbox's consumer
// group and sends it through the notifiers:
//
//   - chat (and any unpaced channel) goes out at once, straight from the
//     stream: the message stays pending in the consumer group under this
//     process until its outcome is recorded, so it costs Redis no lane;
//     it never waits behind a paced SMS call-out;
//   - paced channels go through a lane of their own, into which the
//     message is routed, as does a message whose send is retried;
//   - SMS and voice go out per sender at the configured rate, shared by
//     every process through Redis;
//   - a send that may succeed later (429, 5xx, a timeout) is retried with
//     backoff; one that never will (an invalid number, an unsubscribed
//     recipient) is not, its failure lands in the task's timeline and the
//     task's escalation moves to its next step at once;
//   - a paced lane refuses messages beyond what its sender can send in
//     CapacityWindow, says so in the task's timeline, to the coordinators
//     and in the log, and moves the task's escalation on.
//
// A message whose process died mid-delivery is taken over after the lease.
// Delivery is at least once for a send whose process dies while its HTTP
// request is in flight (Twilio's Messages API takes no idempotency key);
// otherwise every message goes out exactly once.
type Deliverer struct {
	st       Outbox
	out      Notifier
	log      *zap.Logger
	clock    clock.Clock
	consumer string
	lease    time.Duration
	pacing   map[string]Pacing
	workers  int
	// workersSet: Workers was given, and is every lane's.
	workersSet bool
	attempts   int
	backoff    func(attempt int) time.Duration
	coords     []string
	// OnDeliver, when set, sees the outcome of every attempt (tests and
	// metrics). It is called from the sending goroutines.
	OnDeliver func(Delivered)

	// mu guards lastErr.
	mu      sync.Mutex
	lastErr map[string]string
}

// Pacing limits one channel's sends per sender.
type Pacing struct {
	// Sender names the lane and its shared rate limit: the From number or
	// the Messaging Service SID.
	Sender string
	// Rate is messages per second; 0 is unpaced.
	Rate float64
	// Burst is how many may go at once after an idle spell or a stall
	// (default 1: never a second above Rate). Above 1, a late wake-up is
	// caught up instead of lost, and over any N messages the rate is
	// exceeded by at most Burst/N.
	Burst int
}

// CapacityWindow is how much sending a paced lane may hold: a sender at 1
// message per second queues at most 14,400 messages.
const CapacityWindow = 4 * time.Hour

// Outcomes of a delivery attempt.
const (
	OutcomeSent    = "sent"
	OutcomeRetry   = "retry"   // failed; tried again later
	OutcomeFailed  = "failed"  // failed for good
	OutcomeDropped = "dropped" // its task closed before it went out (ErrStale)
	OutcomeRefused = "refused" // its sender's lane was full
)

// Delivered is the outcome of one attempt to deliver one message.
type Delivered struct {
	Msg     store.OutMessage
	Lane    string
	Outcome string
	Attempt int
	Err     error
}

// DelivererOptions configure a Deliverer.
type DelivererOptions struct {
	// Store holds the outbox (*store.Store).
	Store Outbox
	Out   Notifier
	// Logger; zap.NewNop when nil.
	Logger *zap.Logger
	// Consumer names this process in the outbox's consumer group and its
	// lane leases; NewToken() when empty.
	Consumer string
	// Lease is how long a taken message stays taken before another process
	// may take it over (default 30s). It must be well above the longest
	// send (the Twilio client times out after 10s).
	Lease time.Duration
	// Clock schedules sends; the store's clock with real timers when nil.
	Clock clock.Clock
	// Pacing paces channels (SMS, voice) by sender; other channels are
	// unpaced.
	Pacing map[string]Pacing
	// Workers is how many sends of one lane may be in flight at once.
	// Unset: 64, and for a paced lane more when its rate needs them
	// (laneWorkers).
	Workers int
	// MaxAttempts bounds retries of one message (default 10); the last
	// failure counts as permanent.
	MaxAttempts int
	// Backoff is the wait after a failed attempt (1-based); 1s doubling to
	// 1m, with jitter, when nil.
	Backoff func(attempt int) time.Duration
	// Coordinators (person ids) are told on chat when a lane refuses
	// messages, once per lane and hour.
	Coordinators []string
}

// NewDeliverer builds an unpaced Deliverer; consumer names this process.
func NewDeliverer(st Outbox, out Notifier, log *zap.Logger, consumer string, lease time.Duration) *Deliverer {
	return NewDelivererWith(DelivererOptions{Store: st, Out: out, Logger: log, Consumer: consumer, Lease: lease})
}

// NewDelivererWith builds a Deliverer from options.
func NewDelivererWith(o DelivererOptions) *Deliverer {
	d := &Deliverer{st: o.Store, out: o.Out, log: o.Logger, clock: o.Clock, consumer: o.Consumer, lease: o.Lease,
		pacing: o.Pacing, workers: o.Workers, attempts: o.MaxAttempts, backoff: o.Backoff, coords: o.Coordinators,
		lastErr: map[string]string{}}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	if d.clock == nil {
		d.clock = storeClock{o.Store}
	}
	if d.consumer == "" {
		d.consumer = NewToken()
	}
	if d.lease <= 0 {
		d.lease = 30 * time.Second
	}
	d.workersSet = d.workers > 0
	if !d.workersSet {
		d.workers = 64
	}
	if d.attempts <= 0 {
		d.attempts = 10
	}
	if d.backoff == nil {
		d.backoff = DefaultBackoff
	}
	return d
}

// DefaultBackoff waits 1s after the first failure, doubling up to 1m,
// each wait drawn from ±20% so retries of a call-out spread out.
func DefaultBackoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 6)
	d = min(d, time.Minute)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// storeClock reads the store's clock and waits on real timers.
type storeClock struct{ st Outbox }

func (c storeClock) Now() time.Time { return c.st.Now() }
func (c storeClock) After(d time.Duration) (<-chan time.Time, func()) {
	return clock.Real{}.After(d)
}

// Lane names the lane of a channel: the channel itself, or channel:sender
// when it is paced.
func (d *Deliverer) Lane(channel string) string {
	if p, ok := d.pacing[channel]; ok && p.Rate > 0 {
		return channel + ":" + p.Sender
	}
	if channel == "" {
		return Chat
	}
	return channel
}

// paceOf is the pacing of a lane, from the channel it starts with.
func (d *Deliverer) paceOf(lane string) store.Pace {
	ch, _, _ := strings.Cut(lane, ":")
	p, ok := d.pacing[ch]
	if !ok || p.Rate <= 0 {
		return store.Pace{}
	}
	// The rate is a ceiling (twilio.rate is what the sender may send):
	// by default no burst above it, ever.
	burst := max(p.Burst, 1)
	return store.Pace{Rate: p.Rate, Burst: burst, Ahead: laneAhead}
}

// laneWorkers is how many sends of a lane may be in flight at once:
// Workers when set; otherwise 64, or for a paced lane as many as its rate
// keeps busy while each send takes up to typicalSend, whichever is more
// (at most maxLaneWorkers). A lane at 10,000 a second to a provider answering in
// 50 ms has 500 sends in flight: with 64 workers it would send 1,280 a
// second at most, and the rest of a call-out would wait in Redis for a
// worker (a lane's writes and takes for each message) instead of going
// straight from the stream.
func (d *Deliverer) laneWorkers(lane string) int {
	n := d.workers
	if p := d.paceOf(lane); p.Rate > 0 && !d.workersSet {
		n = max(n, min(int(math.Ceil(p.Rate*typicalSend.Seconds())), maxLaneWorkers))
	}
	return n
}

const (
	typicalSend    = 100 * time.Millisecond
	maxLaneWorkers = 1024
)

// laneAhead is how far ahead a take reserves a paced lane's sending
// slots: a lane at 1,000 a second is taken up to 50 messages a script,
// each held until its slot, instead of one a script.
const laneAhead = 50 * time.Millisecond

// Capacity is how many messages a channel's lane may hold (0: no limit).
func (d *Deliverer) Capacity(channel string) int64 {
	p := d.paceOf(d.Lane(channel))
	if p.Rate <= 0 {
		return 0
	}
	return int64(p.Rate * CapacityWindow.Seconds())
}

// Backlog is how many messages wait in a channel's lane, and how many it
// may hold (0: no limit), so a command can warn before a call-out that
// would not fit.
func (d *Deliverer) Backlog(ctx context.Context, channel string) (queued, capacity int64, err error) {
	queued, err = d.st.LaneLen(ctx, d.Lane(channel))
	return queued, d.Capacity(channel), err
}

// laneIdle bounds how long a lane sleeps without a poke: the safety net
// for messages another process routed.
const laneIdle = 500 * time.Millisecond

// lane is one lane's loop state.
type lane struct {
	name string
	pace store.Pace
	poke chan struct{}
	// sem holds a slot for each of the lane's sends in flight, those taken
	// from the lane and those sent straight from the stream alike.
	sem chan struct{}
	// freed tells the lane's loop that a send ended and its slot is free
	// (release).
	freed chan struct{}
	// spacing holds the start of the lane's next send in this process
	// (paced lanes without burst; see spaceOut).
	spacing chan time.Time
}

// spaceOut waits until this process may start the lane's next send: at
// least about one interval (see below) after its previous send
// started. The lane's GCRA in Redis already spaces the takes, across
// processes; this spaces the sends themselves, so a send that was held
// up between its take and its start (a CPU starved under load) is not
// followed by the next one much less than an interval later (a tenth of
// one, 20 ms at most, to make up a late timer): Twilio never sees two
// noticeably closer together than the rate from one process.
func (d *Deliverer) spaceOut(l *lane) {
	if l.spacing == nil {
		return
	}
	next := <-l.spacing
	d.holdUntil(next)
	// The next start: an interval after this one's planned start, so a
	// timer that woke a little late does not slow the lane by its
	// lateness at every send; but never closer to this one's actual start
	// than an interval less a tenth of it (maxCatchUp at most), however
	// late it woke.
	interval := time.Duration(float64(time.Second) / l.pace.Rate)
	now := d.clock.Now()
	planned := now.Add(interval)
	if !next.IsZero() {
		planned = next.Add(interval)
		if floor := now.Add(interval - min(interval/10, maxCatchUp)); planned.Before(floor) {
			planned = floor
		}
	}
	l.spacing <- planned
}

// holdUntil waits until t. A stop does not cut the wait short: the
// message was taken and will be sent (send finishes what it started), so
// it still keeps its distance. Real time bounds the wait for a clock
// nobody advances any more.
func (d *Deliverer) holdUntil(t time.Time) {
	wait := t.Sub(d.clock.Now())
	if wait <= 0 {
		return
	}
	c, stop := d.clock.After(wait)
	real := time.NewTimer(wait)
	select {
	case <-c:
	case <-real.C:
	}
	real.Stop()
	stop()
}

// maxCatchUp bounds how much closer than an interval a send may start
// after one that started late (a tenth of an interval, at most this):
// enough to make up a timer's lateness, so the lane keeps its rate, too
// little for two arrivals at the provider to come noticeably closer than
// the rate.
const maxCatchUp = 20 * time.Millisecond

// release frees a send's slot and tells the lane's loop, which may be
// waiting for one.
func (l *lane) release() {
	<-l.sem
	select {
	case l.freed <- struct{}{}:
	default:
	}
}

func (l *lane) wake() {
	select {
	case l.poke <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the sends in flight to
// finish and be recorded.
func (d *Deliverer) Run(ctx context.Context) error {
	var wg, direct sync.WaitGroup
	defer wg.Wait()
	defer direct.Wait()
	lanes := map[string]*lane{}
	start := func(name string) *lane {
		if l, ok := lanes[name]; ok {
			return l
		}
		l := &lane{name: name, pace: d.paceOf(name), poke: make(chan struct{}, 1), sem: make(chan struct{}, d.laneWorkers(name)),
			freed: make(chan struct{}, 1)}
		if l.pace.Rate > 0 && l.pace.Burst <= 1 {
			l.spacing = make(chan time.Time, 1)
			l.spacing <- time.Time{}
		}
		lanes[name] = l
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.runLane(ctx, l)
		}()
		return l
	}
	start(Chat)
	for ch := range d.pacing {
		start(d.Lane(ch))
	}
	d.report("outbox", d.st.EnsureOutbox(ctx))
	var lastScan time.Time
	for ctx.Err() == nil {
		if time.Since(lastScan) > d.lease/2 {
			lastScan = time.Now()
			known, err := d.st.OutboxLanes(ctx)
			d.report("outbox", err)
			for _, n := range known {
				start(n)
			}
			// Entries of a process that died: it may have sent them
			// (direct), so they go to their lanes marked unsure.
			stale, err := d.st.ReclaimOutbox(ctx, d.consumer, d.lease, 200)
			d.report("outbox", err)
			got, _ := d.route(ctx, stale, true, nil)
			for _, n := range got {
				start(n).wake()
			}
		}
		entries, err := d.st.ReadOutbox(ctx, d.consumer, 500, time.Second)
		d.report("outbox", err)
		if err != nil {
			d.sleep(ctx, time.Second, nil)
			continue
		}
		paced, live := d.split(ctx, entries)
		// A paced message goes straight from the stream only while its
		// lane has a worker free for it: one that would wait for a
		// worker waits in its lane instead, in Redis, and this loop
		// (which chat goes through too) never waits behind a call-out.
		free := map[string]int{}
		got, straight := d.route(ctx, paced, false, func(name string) bool {
			n, ok := free[name]
			if !ok {
				l := start(name)
				n = cap(l.sem) - len(l.sem)
			}
			free[name] = n - 1
			return n > 0
		})
		for _, n := range got {
			start(n).wake()
		}
		for _, e := range append(live, straight...) {
			l := start(e.Lane)
			l.sem <- struct{}{} // waits while the lane's workers are all busy
			direct.Add(1)
			go func() {
				defer func() { l.release(); direct.Done() }()
				d.holdUntil(e.NotBefore) // a paced one's slot
				d.spaceOut(l)
				d.send(ctx, e)
			}()
		}
	}
	return nil
}

// split sorts entries just read from the stream: those of paced lanes go
// through their lane (returned as paced, to route); the others are sent
// straight from the stream (returned as live, marked direct), except
// those about a task that has closed meanwhile, which are dropped here.
// Sending unpaced messages direct spares Redis a lane's writes for each.
func (d *Deliverer) split(ctx context.Context, entries []store.OutboxEntry) (paced, live []store.OutboxEntry) {
	var direct []store.OutboxEntry
	for _, e := range entries {
		l := d.Lane(e.Msg.Channel)
		if d.paceOf(l).Rate > 0 {
			paced = append(paced, e)
			continue
		}
		e.Direct, e.Lane, e.Attempts = true, l, 1
		direct = append(direct, e)
	}
	if len(direct) == 0 {
		return paced, nil
	}
	live, closed, err := d.st.LiveOutbox(ctx, direct)
	if err != nil {
		// Left pending in the group: taken over after the lease.
		d.report("outbox", err)
		return paced, nil
	}
	for _, e := range closed {
		d.report(e.Lane, d.st.DropOutbox(ctx, e, d.consumer))
		d.observe(Delivered{Msg: e.Msg, Lane: e.Lane, Outcome: OutcomeDropped})
	}
	return paced, live
}

// route moves stream entries into their lanes and returns the lanes that
// got messages, and the entries to send straight from the stream (paced
// ones whose lane was empty and whose sender had a slot: see
// lua/outbox_route.lua), each to be held until its slot. mayGoStraight
// says whether one more of a lane's may (nil: none may). unsure marks
// entries taken over from a process that died, which may have sent them:
// they go into their lanes, marked so.
// Refused messages are reported and their tasks advanced.
func (d *Deliverer) route(ctx context.Context, entries []store.OutboxEntry, unsure bool, mayGoStraight func(lane string) bool) (got []string, straight []store.OutboxEntry) {
	if len(entries) == 0 {
		return nil, nil
	}
	routes := make([]store.Route, len(entries))
	laneOf := map[string]string{}
	byID := map[string]store.OutboxEntry{}
	for i, e := range entries {
		l := d.Lane(e.Msg.Channel)
		routes[i] = store.Route{ID: e.ID, Lane: l, Capacity: d.Capacity(e.Msg.Channel), Unsure: unsure, Task: e.Msg.Task}
		if !unsure && mayGoStraight != nil {
			if p := d.paceOf(l); p.Rate > 0 && mayGoStraight(l) {
				routes[i].Pace = p
			}
		}
		laneOf[e.ID] = l
		byID[e.ID] = e
	}
	res, err := d.st.RouteOutbox(ctx, routes)
	if err != nil {
		// Left pending in the group: reclaimed after the lease.
		d.report("outbox", err)
		return nil, nil
	}
	seen := map[string]bool{}
	refused := map[string]int{}
	for _, r := range res {
		l := laneOf[r.ID]
		switch r.Result {
		case store.RouteDirect:
			e := byID[r.ID]
			e.Direct, e.Lane, e.Attempts, e.NotBefore = true, l, 1, r.NotBefore
			straight = append(straight, e)
		case store.RouteDropped:
			d.observe(Delivered{Msg: byID[r.ID].Msg, Lane: l, Outcome: OutcomeDropped})
		case store.RouteOK:
			if !seen[l] {
				seen[l] = true
				got = append(got, l)
			}
		case store.RouteRefused:
			refused[l]++
			msg := store.OutMessage{Key: r.Key, Channel: r.Channel, To: r.To, Task: r.Task}
			reason := fmt.Sprintf("%s not sent: more than %d messages wait for this sender (%s at its rate)",
				r.Channel, d.Capacity(r.Channel), CapacityWindow)
			d.advance(ctx, msg, reason)
			d.observe(Delivered{Msg: msg, Lane: l, Outcome: OutcomeRefused})
		}
	}
	for l, n := range refused {
		d.log.Warn("outbox lane full: messages refused", zap.String("lane", logging.MaskText(l)), zap.Int("refused", n),
			zap.Int64("capacity", d.Capacity(strings.SplitN(l, ":", 2)[0])), zap.Duration("window", CapacityWindow))
		d.announceFull(ctx, l, n)
	}
	return got, straight
}

// announceFull tells the coordinators, once per lane and hour, that a
// lane refused messages.
func (d *Deliverer) announceFull(ctx context.Context, l string, n int) {
	if len(d.coords) == 0 {
		return
	}
	ch, _, _ := strings.Cut(l, ":")
	now := d.clock.Now()
	text := fmt.Sprintf("muster could not queue %d %s message(s): more than %s of sending already waits for the sender at %g per second. Those tasks escalated to their next step. Raise twilio.rate (a Messaging Service or short code sends faster).",
		n, ch, CapacityWindow, d.paceOf(l).Rate)
	msgs := make([]store.OutMessage, 0, len(d.coords))
	for _, c := range d.coords {
		msgs = append(msgs, store.OutMessage{Key: fmt.Sprintf("outbox-full:%s:%d:%s", l, now.Unix()/3600, c),
			Channel: Chat, To: c, Kind: "outbox", Text: text})
	}
	if _, err := d.st.Enqueue(ctx, msgs...); err != nil {
		d.report("outbox", err)
	}
}

// runLane sends one lane's messages until ctx ends.
func (d *Deliverer) runLane(ctx context.Context, l *lane) {
	sem := l.sem
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for ctx.Err() == nil {
		free := cap(sem) - len(sem)
		if free <= 0 {
			select {
			case <-ctx.Done():
			case <-l.freed:
			}
			continue
		}
		now := d.clock.Now()
		t, err := d.st.TakeOutbox(ctx, store.Take{Lane: l.name, Limit: free, Now: now, Lease: d.lease, Token: d.consumer, Pace: l.pace})
		d.report(l.name, err)
		if err != nil {
			d.sleep(ctx, time.Second, l.poke)
			continue
		}
		d.dropped(l.name, t.Dropped)
		for _, e := range t.Entries {
			sem <- struct{}{}
			inflight.Add(1)
			go func() {
				defer func() {
					l.release()
					inflight.Done()
				}()
				d.holdUntil(e.NotBefore) // its slot on the lane
				d.spaceOut(l)
				d.send(ctx, e)
			}()
		}
		switch {
		case t.Wait > 0:
			d.sleep(ctx, t.Wait, nil)
		case len(t.Entries) == free:
			// Every slot is busy; the top of the loop waits for one.
		case t.Next.IsZero():
			d.sleep(ctx, laneIdle, l.poke)
		default:
			wait := min(t.Next.Sub(d.clock.Now()), laneIdle)
			if len(t.Entries) == 0 && len(t.Dropped) == 0 {
				wait = max(wait, 5*time.Millisecond) // never spin
			}
			if wait > 0 {
				d.sleep(ctx, wait, l.poke)
			}
		}
	}
}

// sleep waits d, or until ctx ends or poke fires.
func (d *Deliverer) sleep(ctx context.Context, wait time.Duration, poke <-chan struct{}) {
	c, stop := d.clock.After(wait)
	defer stop()
	select {
	case <-ctx.Done():
	case <-c:
	case <-poke:
	}
}

// sendShare is the part of the lease a notifier has to send in; the rest
// is for recording the outcome. A send must end, and its outcome be
// recorded, before the lease does: after it another process takes the
// message over and sends it again.
const sendShare = 0.75

// send delivers one taken message and records the outcome. A stop (ctx
// ending) lets the send and its record finish: an abandoned HTTP request
// would leave it unknown whether the message went out. The notifier gets
// a deadline inside the lease and must have returned by it (a chat
// adapter that waits for its turn in a paced channel gives up the wait,
// and the message comes back through its lane).
func (d *Deliverer) send(ctx context.Context, e store.OutboxEntry) {
	base := context.WithoutCancel(ctx)
	nctx, ncancel := context.WithTimeout(base, time.Duration(float64(d.lease)*sendShare))
	m := e.Msg
	retry, err := d.out.Notify(nctx, Message{
		ID: e.ID, Key: m.Key, Channel: m.Channel, Site: m.Site, To: m.To, Kind: m.Kind,
		Text: m.Text, Ref: m.Ref, Drill: m.Drill == "1", MaybeSent: e.MaybeSent(),
	})
	ncancel()
	ctx, cancel := context.WithTimeout(base, d.lease)
	defer cancel()
	res := Delivered{Msg: m, Lane: e.Lane, Attempt: e.Attempts, Err: err}
	switch {
	case err == nil:
		res.Outcome = OutcomeSent
		d.report(e.Lane, d.st.FinishOutbox(ctx, e, d.consumer))
	case errors.Is(err, ErrStale):
		res.Outcome, res.Err = OutcomeDropped, nil
		d.log.Info("not sent: its task was closed first", zap.String("key", m.Key), zap.String("ref", m.Ref),
			zap.String("to", m.To), zap.String("site", m.Site))
		d.report(e.Lane, d.st.DropOutbox(ctx, e, d.consumer))
	case retry && e.Attempts < d.attempts:
		res.Outcome = OutcomeRetry
		wait := d.backoff(e.Attempts)
		var ra interface{ RetryAfter() time.Duration }
		if errors.As(err, &ra) {
			wait = max(wait, ra.RetryAfter())
		}
		d.failure(e, err, "retrying in "+wait.Round(time.Millisecond).String())
		_, rerr := d.st.RetryOutbox(ctx, e, d.consumer, d.clock.Now().Add(wait), errText(err))
		d.report(e.Lane, rerr)
	default:
		res.Outcome = OutcomeFailed
		d.failure(e, err, "giving up")
		reason := errText(err)
		if retry {
			reason = fmt.Sprintf("%s (gave up after %d attempts)", reason, e.Attempts)
		}
		d.report(e.Lane, d.st.FailOutbox(ctx, e, d.consumer, reason))
		if !errors.Is(err, ErrNoProvider) {
			d.advance(ctx, m, fmt.Sprintf("%s to %s failed (%s); next step now", m.Channel, m.To, reason))
		}
	}
	d.observe(res)
}

// advance moves a task's escalation on when an SMS or call of its step
// cannot reach the person.
func (d *Deliverer) advance(ctx context.Context, m store.OutMessage, reason string) {
	if m.Task == "" || (m.Channel != SMS && m.Channel != Voice) {
		return
	}
	res, err := d.st.AdvanceAfter(ctx, m.Key, reason)
	if err != nil {
		d.report("advance", err)
		return
	}
	d.log.Info("escalation advanced after a failed send", zap.String("key", m.Key), zap.String("result", res))
}

func (d *Deliverer) dropped(lane string, msgs []store.OutMessage) {
	for _, m := range msgs {
		d.observe(Delivered{Msg: m, Lane: lane, Outcome: OutcomeDropped})
	}
}

func (d *Deliverer) observe(r Delivered) {
	if d.OnDeliver != nil {
		d.OnDeliver(r)
	}
}

// failure logs a failed send, at warning level only when the lane's error
// changes, so a run of 429s is one line.
func (d *Deliverer) failure(e store.OutboxEntry, err error, what string) {
	text := errText(err)
	d.mu.Lock()
	changed := d.lastErr["send:"+e.Lane] != text
	d.lastErr["send:"+e.Lane] = text
	d.mu.Unlock()
	level := d.log.Debug
	if changed {
		level = d.log.Warn
	}
	level("delivery failed", zap.String("lane", logging.MaskText(e.Lane)), zap.String("key", e.Msg.Key),
		zap.String("to", e.Msg.To), zap.Int("attempt", e.Attempts), zap.String("then", what), zap.String("error", text))
}

// report logs an error reaching Redis when it differs from the last one
// of its kind, and the recovery once.
func (d *Deliverer) report(kind string, err error) {
	d.mu.Lock()
	last := d.lastErr[kind]
	switch {
	case err != nil:
		d.lastErr[kind] = err.Error()
	default:
		delete(d.lastErr, kind)
	}
	d.mu.Unlock()
	switch {
	case err != nil && err.Error() != last:
		d.log.Warn("outbox unreachable; retrying", zap.String("lane", logging.MaskText(kind)), zap.Error(err))
	case err == nil && last != "":
		d.log.Info("outbox reachable again", zap.String("lane", logging.MaskText(kind)))
	}
}

// errText is an error as the timeline and the log show it: one line,
// phone numbers masked.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return logging.MaskText(strings.ReplaceAll(err.Error(), "\n", " "))
}

// Drain delivers everything waiting and due in the outbox now, one
// message at a time, without blocking, and returns how many messages it
// handled. Tests use it to settle.
func (d *Deliverer) Drain(ctx context.Context) (int, error) {
	if err := d.st.EnsureOutbox(ctx); err != nil {
		return 0, err
	}
	n := 0
	for {
		entries, err := d.st.ReadOutbox(ctx, d.consumer, 500, -1)
		if err != nil {
			return n, err
		}
		if len(entries) == 0 {
			break
		}
		paced, live := d.split(ctx, entries)
		n += len(entries) - len(paced) - len(live) // dropped
		// All into their lanes: they are taken one at a time below.
		d.route(ctx, paced, false, nil)
		for _, e := range live {
			d.send(ctx, e)
			n++
		}
	}
	lanes, err := d.st.OutboxLanes(ctx)
	if err != nil {
		return n, err
	}
	for _, name := range lanes {
		pace := d.paceOf(name)
		pace.Ahead = 0 // one at a time, each sent as it is taken
		for {
			t, err := d.st.TakeOutbox(ctx, store.Take{Lane: name, Limit: 1, Now: d.clock.Now(), Lease: d.lease, Token: d.consumer, Pace: pace})
			if err != nil {
				return n, err
			}
			d.dropped(name, t.Dropped)
			n += len(t.Dropped)
			if len(t.Entries) == 0 {
				if len(t.Dropped) > 0 {
					continue
				}
				break
			}
			for _, e := range t.Entries {
				d.send(ctx, e)
				n++
			}
		}
	}
	return n, nil
}
