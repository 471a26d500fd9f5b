package slack

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// Errors Notify returns.
var (
	// ErrNoDestination: the message's site has no Slack channel, or its
	// person no Slack id, so Slack has nowhere to show it.
	ErrNoDestination = errors.New("slack: no channel for this message")
	// ErrQueueFull: the channel's queue is full (Slack is slower than
	// muster is writing); try again later.
	ErrQueueFull = errors.New("slack: channel queue full")
	// ErrChannelBusy: the channel's queue (paced, or waiting out a 429)
	// cannot post the message before the caller's deadline; try again
	// after the RetryAfter the error carries.
	ErrChannelBusy = errors.New("slack: channel busy")
	// ErrClosed: the adapter is shutting down.
	ErrClosed = errors.New("slack: adapter closed")
)

// Retry limits for one job.
const (
	maxRateLimited = 5 // 429s honoured before giving up
	maxRetries     = 3 // other retryable failures
)

// minAttempt is the least time before a post's deadline for which an
// attempt is still started: an attempt cut short by the deadline leaves it
// unknown whether Slack has the post, and the outbox would post it again.
const minAttempt = 500 * time.Millisecond

// op is what a job does.
type op int

const (
	opPost   op = iota // post a message (a card, a thread reply, a text)
	opUpdate           // edit a card to show its record as it stands
)

// job is one call to Slack waiting in a channel's queue. Cards are
// rendered when the job runs, from the record as it is then, so a queued
// card is never staler than its turn.
type job struct {
	op      op
	msg     notify.Message // opPost
	post    *post          // opPost: the waiting Notify
	channel string         // a channel id; empty for a DM not yet opened
	user    string         // the Slack user id of a DM
	ts      string         // opUpdate: the message to edit
	ref     string         // opUpdate: the record it shows
	// unsure, when set, is the earliest time an earlier attempt may have
	// posted the message (opPost): it is looked up before it is posted
	// again (lookup.go).
	unsure time.Time
}

// post is the hand-over between a Notify that waits for its post and the
// queue's worker that makes it.
type post struct {
	// ctx is the caller's: when it ends, a post not yet attempted is
	// abandoned, and one being attempted is not attempted again.
	ctx context.Context
	// deadline is ctx's (zero: none). No attempt starts that could not end
	// by then, and each attempt is cut off at it.
	deadline time.Time
	// done receives the outcome, once.
	done chan error

	// mu guards state.
	mu    sync.Mutex
	state postState
}

type postState int

const (
	postWaiting   postState = iota // queued, or between attempts
	postAttempt                    // a call to Slack is in flight
	postAbandoned                  // the caller gave up before it was attempted
)

// begin marks an attempt started; false when the caller gave up.
func (p *post) begin() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == postAbandoned {
		return false
	}
	p.state = postAttempt
	return true
}

// pause marks the post waiting again (before a retry).
func (p *post) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == postAttempt {
		p.state = postWaiting
	}
}

// abandon gives the post up unless an attempt is in flight; false when
// one is (its outcome must then be awaited).
func (p *post) abandon() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == postAttempt {
		return false
	}
	p.state = postAbandoned
	return true
}

// finish hands the outcome to the waiting Notify.
func (p *post) finish(err error) {
	select {
	case p.done <- err:
	default:
	}
}

// timeLeft is how long until the post's deadline; a large value when it
// has none.
func (p *post) timeLeft() time.Duration {
	if p.deadline.IsZero() {
		return time.Duration(math.MaxInt64)
	}
	return time.Until(p.deadline)
}

// busyError is a refusal that says when to try again; the outbox honours
// RetryAfter.
type busyError struct {
	err   error
	after time.Duration
}

func (e *busyError) Error() string {
	return fmt.Sprintf("%v (try again in %v)", e.err, e.after.Round(time.Millisecond))
}
func (e *busyError) Unwrap() error { return e.err }

// RetryAfter is how long to wait before trying again.
func (e *busyError) RetryAfter() time.Duration { return e.after }

// queue is one channel's line of jobs; one worker drains it, at most one
// call per PostInterval. Posts go before card edits: a post has a caller
// waiting (the outbox, under a lease), an edit does not.
type queue struct {
	key     string
	posts   chan job
	updates chan job

	// mu guards the fields that follow (read by Notify to tell whether a
	// new post can make its deadline).
	mu      sync.Mutex
	next    time.Time // on the adapter's clock: when the next call may go
	waiting int       // posts queued or being attempted
}

// Notify shows a chat message in Slack: m.Site posts to the site's
// channel, m.To to the person's DM. Incidents (Ref INC-n) become incident
// cards, task notices (Ref T-n) task cards, an incident's updates go into
// its card's thread, and anything else is posted as escaped text.
//
// Notify returns only once Slack has accepted the post, or the post has
// failed: the outbox records a message sent only when it is in Slack, so
// a process killed with posts still queued loses none (the outbox sends
// them again after the lease). The post waits its turn in the channel's
// queue (Slack allows one post per second per channel), which retries a
// 429 after its Retry-After and a transient failure with backoff, within
// ctx's deadline. When ctx ends before the post was attempted, the post
// is abandoned and Notify returns retry true; when an attempt is in
// flight, Notify waits for its outcome (the attempt is cut off at ctx's
// deadline), so a post is never reported failed while Slack may have it.
//
// A task's notice whose task was acknowledged (or closed) while the post
// waited its turn is not posted: Notify returns notify.ErrStale. A post
// that an earlier attempt may have made (m.MaybeSent, or an attempt of
// this call that broke after its request was written) is looked up
// before it is posted again (lookup.go).
//
// retry is false for ErrNoDestination, notify.ErrStale and failures that
// will not pass (an unknown channel, a revoked token); true for ErrQueueFull,
// ErrChannelBusy (its error has a RetryAfter), ErrClosed, rate limits,
// 5xx and network failures.
func (a *Adapter) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if m.Channel != "" && m.Channel != notify.Chat {
		return false, fmt.Errorf("%w: channel %q is not chat", ErrNoDestination, m.Channel)
	}
	j := job{op: opPost, msg: m, unsure: m.MaybeSent}
	key := ""
	switch {
	case m.Site != "":
		site, ok := a.cfg().Site(m.Site)
		if !ok || site.Channels.Slack == "" {
			return false, fmt.Errorf("%w: site %q", ErrNoDestination, m.Site)
		}
		j.channel, key = site.Channels.Slack, site.Channels.Slack
	case m.To != "":
		p, ok := a.cfg().Person(m.To)
		if !ok || p.Slack == "" {
			return false, fmt.Errorf("%w: person %q has no Slack id", ErrNoDestination, m.To)
		}
		j.user = p.Slack
		a.mu.Lock()
		j.channel = a.dms[p.Slack]
		a.mu.Unlock()
		key = "dm:" + p.Slack
	default:
		return false, fmt.Errorf("%w: neither site nor person", ErrNoDestination)
	}
	p := &post{ctx: ctx, done: make(chan error, 1)}
	if dl, ok := ctx.Deadline(); ok {
		p.deadline = dl
	}
	j.post = p
	if err := a.enqueue(key, j); err != nil {
		return true, err
	}
	select {
	case err := <-p.done:
		return postOutcome(err)
	case <-ctx.Done():
		if p.abandon() {
			return true, fmt.Errorf("slack: not posted to %s: %w", key, ctx.Err())
		}
		// An attempt is in flight: its outcome decides.
		return postOutcome(<-p.done)
	}
}

// postOutcome maps a post's outcome to Notify's answer.
func postOutcome(err error) (bool, error) {
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, notify.ErrStale):
		return false, err
	case errors.Is(err, ErrClosed), errors.Is(err, ErrChannelBusy), errors.Is(err, ErrQueueFull),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return true, err
	}
	return retryable(err), err
}

// enqueue adds j to the queue named key, starting its worker on first use.
// A post is refused with ErrChannelBusy when the queue cannot reach it
// before its deadline.
func (a *Adapter) enqueue(key string, j job) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	q := a.queues[key]
	if q == nil {
		q = &queue{key: key, posts: make(chan job, a.qsize), updates: make(chan job, a.qsize)}
		a.queues[key] = q
		a.wg.Add(1)
		go a.work(q)
	}
	line := q.updates
	if j.op == opPost {
		line = q.posts
		q.mu.Lock()
		// Every post ahead takes at least one interval; the first waits
		// for the queue's next slot (pacing, or a 429's Retry-After).
		wait := max(q.next.Sub(a.clock.Now()), 0) + time.Duration(q.waiting)*a.every
		if wait+minAttempt > j.post.timeLeft() {
			q.mu.Unlock()
			return &busyError{err: fmt.Errorf("%w: %s", ErrChannelBusy, key), after: wait}
		}
		q.waiting++
		q.mu.Unlock()
	}
	// Sent under a.mu, so Close (which sets closed under a.mu before it
	// stops the workers) finds every queued job when it drains.
	select {
	case line <- j:
		a.pending++
		return nil
	default:
		if j.op == opPost {
			q.donePost()
		}
		a.log.Warn("slack queue full; message refused", zap.String("queue", key), zap.Int("size", a.qsize))
		return ErrQueueFull
	}
}

// donePost counts one post out of the queue.
func (q *queue) donePost() {
	q.mu.Lock()
	q.waiting--
	q.mu.Unlock()
}

// hold moves the queue's next slot to at least t.
func (q *queue) hold(t time.Time) {
	q.mu.Lock()
	if t.After(q.next) {
		q.next = t
	}
	q.mu.Unlock()
}

// work drains one queue until the adapter closes, keeping PostInterval
// between calls on the adapter's clock, posts first.
func (a *Adapter) work(q *queue) {
	defer a.wg.Done()
	for {
		var j job
		select {
		case j = <-q.posts:
		default:
			select {
			case <-a.ctx.Done():
				a.shut(q)
				return
			case j = <-q.posts:
			case j = <-q.updates:
			}
		}
		if j.op == opPost {
			a.runPost(q, j)
			q.donePost()
		} else {
			a.runUpdate(q, j)
		}
		a.jobDone()
	}
}

// shut answers the posts still queued at close with ErrClosed (their
// callers put them back in the outbox) and drops the queued card edits.
func (a *Adapter) shut(q *queue) {
	edits := 0
	for {
		select {
		case j := <-q.posts:
			j.post.finish(ErrClosed)
			q.donePost()
		case <-q.updates:
			edits++
		default:
			if edits > 0 {
				a.log.Info("slack card edits dropped at shutdown", zap.String("queue", q.key), zap.Int("edits", edits))
			}
			return
		}
		a.jobDone()
	}
}

// pace waits until the queue's next slot, or until done or the adapter
// closes (false).
func (a *Adapter) pace(q *queue, done <-chan struct{}) bool {
	q.mu.Lock()
	next := q.next
	q.mu.Unlock()
	if wait := next.Sub(a.clock.Now()); wait > 0 {
		return a.sleep(wait, done)
	}
	return true
}

// called records a call to Slack made now: the next waits PostInterval.
func (a *Adapter) called(q *queue) { q.hold(a.clock.Now().Add(a.every)) }

// sleep waits d on the adapter's clock; false when done ends or the
// adapter closed first.
func (a *Adapter) sleep(d time.Duration, done <-chan struct{}) bool {
	c, stop := a.clock.After(d)
	defer stop()
	select {
	case <-c:
		return true
	case <-done:
		return false
	case <-a.ctx.Done():
		return false
	}
}

// runPost makes one post, with its retries, and hands the outcome to the
// waiting Notify.
func (a *Adapter) runPost(q *queue, j job) {
	p := j.post
	limited, failed := 0, 0
	for {
		if !a.pace(q, p.ctx.Done()) {
			if a.ctx.Err() != nil {
				p.finish(ErrClosed)
			} else {
				p.finish(fmt.Errorf("slack: not posted to %s: %w", q.key, p.ctx.Err()))
			}
			return
		}
		if left := p.timeLeft(); left < minAttempt {
			p.finish(&busyError{err: fmt.Errorf("%w: %s: %v left before the deadline", ErrChannelBusy, q.key, left.Round(time.Millisecond)), after: a.every})
			return
		}
		if !p.begin() {
			return // abandoned: the caller puts it back in the outbox
		}
		// The attempt is not cut off by the adapter closing or the caller
		// giving up, only by the deadline (and the HTTP client's timeout):
		// cut short, it would leave unknown whether Slack has the post.
		actx, cancel := context.WithCancel(context.Background())
		if !p.deadline.IsZero() {
			actx, cancel = context.WithDeadline(context.Background(), p.deadline)
		}
		err := a.attempt(actx, &j)
		cancel()
		if errors.Is(err, notify.ErrStale) {
			p.finish(err) // no call to Slack was made
			return
		}
		a.called(q)
		if err == nil {
			p.finish(nil)
			return
		}
		p.pause()
		var rl *slack.RateLimitedError
		switch {
		case p.ctx.Err() != nil || a.ctx.Err() != nil:
		case errors.As(err, &rl) && limited < maxRateLimited:
			limited++
			wait := max(rl.RetryAfter, time.Second)
			q.hold(a.clock.Now().Add(wait))
			if wait+minAttempt > p.timeLeft() {
				// Not within the caller's deadline: the outbox tries again
				// once the limit has passed.
				p.finish(&busyError{err: err, after: wait})
				return
			}
			a.log.Info("slack rate limited; waiting", zap.String("queue", q.key), zap.Duration("retry_after", wait))
			continue
		case retryable(err) && failed < maxRetries:
			failed++
			wait := time.Duration(1<<(failed-1)) * time.Second
			if wait+minAttempt > p.timeLeft() {
				p.finish(err)
				return
			}
			if !a.sleep(wait, p.ctx.Done()) {
				p.finish(err)
				return
			}
			continue
		}
		p.finish(err)
		return
	}
}

// runUpdate performs one card edit with its retries. Card edits are best
// effort: one that fails is logged and the card stays as it was until
// the record's next change (the outbox does not carry them).
func (a *Adapter) runUpdate(q *queue, j job) {
	ctx := a.ctx
	limited, failed := 0, 0
	for {
		if !a.pace(q, nil) {
			return
		}
		err := a.attempt(ctx, &j)
		a.called(q)
		if err == nil {
			return
		}
		var rl *slack.RateLimitedError
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &rl) && limited < maxRateLimited:
			limited++
			wait := max(rl.RetryAfter, time.Second)
			a.log.Info("slack rate limited; waiting", zap.String("queue", q.key), zap.Duration("retry_after", wait))
			q.hold(a.clock.Now().Add(wait))
			continue
		case retryable(err) && failed < maxRetries:
			failed++
			if !a.sleep(time.Duration(1<<(failed-1))*time.Second, nil) {
				return
			}
			continue
		}
		a.log.Warn("slack card edit failed", zap.String("queue", q.key), zap.String("ref", j.ref), zap.Error(err))
		return
	}
}

// retryable reports whether a failed call might succeed if tried again,
// by muster's one retry policy (notify.Failure).
func retryable(err error) bool { return failure(err).Retryable() }

// failure says what a slack-go error means for the retry policy.
func failure(err error) notify.Failure {
	var (
		sc  slack.StatusCodeError
		se  slack.SlackErrorResponse
		ue  *url.Error
		rle *slack.RateLimitedError
	)
	f := notify.Failure{}.Transport(err)
	switch {
	case f.Stopped:
	case errors.As(err, &rle):
		f.RateLimited = true
	case errors.As(err, &sc):
		f.Status = sc.Code
	case errors.As(err, &se):
		// Slack answers 200 with an error code; these pass.
		switch se.Err {
		case "ratelimited":
			f.RateLimited = true
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			f.VendorTransient = true
		default:
			f.Status = http.StatusBadRequest
		}
	case errors.As(err, &ue):
		f.NoAnswer = true
	}
	return f
}

// attempt makes one try at a job.
func (a *Adapter) attempt(ctx context.Context, j *job) error {
	if j.op == opUpdate {
		a.editTaken(j.channel + "/" + j.ts)
		c, ok := a.renderRef(ctx, j.ref)
		if !ok {
			return nil // nothing to show; renderRef logged why
		}
		_, _, _, err := a.api.UpdateMessageContext(ctx, j.channel, j.ts,
			slack.MsgOptionText(c.text, false), slack.MsgOptionBlocks(c.blocks...))
		if err != nil {
			return fmt.Errorf("chat.update %s in %s: %w", j.ref, j.channel, err)
		}
		a.log.Debug("slack card updated", zap.String("ref", j.ref), zap.String("channel", j.channel))
		return nil
	}
	if j.channel == "" {
		ch, err := a.openDM(ctx, j.user)
		if err != nil {
			return err
		}
		j.channel = ch
	}
	m := j.msg
	var (
		c        card
		thread   string
		remember bool
	)
	kind, _, isRef := splitRef(m.Ref)
	switch {
	case isRef && kind == "INC" && m.Kind == "update":
		c = textCard(m.Text)
		thread = a.cardTS(ctx, m.Ref, j.channel)
	case isRef && kind == "T" && m.Kind != "update":
		remember = true
		c = textCard(m.Text)
		t, err := a.task(ctx, m.Ref)
		switch {
		case err != nil:
			a.log.Warn("slack card not rendered", zap.String("ref", m.Ref), zap.Error(err))
		case notify.Stale(m, t):
			// Acknowledged (or closed) while the post waited its turn:
			// the person has answered; the card, if any, shows it.
			return notify.ErrStale
		default:
			c = taskCard(a.cfg(), t)
		}
	case isRef && kind == "INC" && m.Kind != "update":
		remember = true
		var ok bool
		if c, ok = a.renderRef(ctx, m.Ref); !ok {
			c = textCard(m.Text)
		}
	case isRef && kind == "R" && m.Kind == "tally":
		remember = true
		var ok bool
		if c, ok = a.renderRef(ctx, m.Ref); !ok {
			c = textCard(m.Text)
		}
	default:
		c = textCard(m.Text)
	}
	opts := []slack.MsgOption{slack.MsgOptionText(c.text, false), slack.MsgOptionBlocks(c.blocks...)}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	if md, ok := a.metadata(m); ok {
		opts = append(opts, slack.MsgOptionMetadata(md))
	}
	ch, ts := "", ""
	if !j.unsure.IsZero() && m.ID != "" {
		found, err := a.findPost(ctx, j.channel, thread, m, j.unsure.Add(-LookupMargin))
		var rl *slack.RateLimitedError
		switch {
		case errors.As(err, &rl):
			return err // waited out and tried again, like a post
		case err != nil:
			a.log.Warn("slack lookup failed; posting again, which may post the message twice",
				zap.String("ref", m.Ref), zap.String("key", m.Key), zap.String("channel", j.channel), zap.Error(err))
		case found != "":
			ch, ts = j.channel, found
			a.log.Info("slack had the post already; not posted again", zap.String("ref", m.Ref), zap.String("key", m.Key),
				zap.String("channel", ch), zap.String("ts", ts))
		}
	}
	if ts == "" {
		at := a.clock.Now()
		var err error
		ch, ts, err = a.api.PostMessageContext(ctx, j.channel, opts...)
		if err != nil && outcomeUnknown(err) {
			// Slack may have the post: look before posting it again.
			if j.unsure.IsZero() {
				j.unsure = at
			}
			return fmt.Errorf("chat.postMessage %s to %s: %w: %w", m.Ref, j.channel, errOutcomeUnknown, err)
		}
		if err != nil {
			return fmt.Errorf("chat.postMessage %s to %s: %w", m.Ref, j.channel, err)
		}
		a.log.Debug("slack message posted", zap.String("ref", m.Ref), zap.String("kind", m.Kind), zap.String("channel", ch))
	}
	if !remember {
		return nil
	}
	if err := a.st.AddCard(ctx, Platform, m.Ref, ch+"/"+ts); err != nil {
		a.log.Warn("slack card not remembered; it will not follow changes", zap.String("ref", m.Ref), zap.Error(err))
		return nil
	}
	// The record may have changed between rendering and remembering (and
	// the refresher, finding no card yet, skipped it): look once more.
	if now, ok := a.renderRef(ctx, m.Ref); ok && now.text != c.text {
		if err := a.enqueue(ch, job{op: opUpdate, channel: ch, ts: ts, ref: m.Ref}); err != nil {
			a.log.Warn("slack card refresh not queued", zap.String("ref", m.Ref), zap.Error(err))
		}
	}
	return nil
}

// renderRef renders the card of INC-n or T-n from the record as it
// stands; false when there is none (logged).
func (a *Adapter) renderRef(ctx context.Context, ref string) (card, bool) {
	kind, _, ok := splitRef(ref)
	if !ok {
		return card{}, false
	}
	var err error
	switch kind {
	case "INC":
		var n int64
		if n, err = store.ParseID("INC", ref); err == nil {
			var inc *store.Incident
			if inc, err = a.st.Incident(ctx, n); err == nil {
				return incidentCard(a.cfg(), inc), true
			}
		}
	case "T":
		var n int64
		if n, err = store.ParseID("T", ref); err == nil {
			var t *store.Task
			if t, err = a.st.Task(ctx, n); err == nil {
				return taskCard(a.cfg(), t), true
			}
		}
	case "R":
		var n int64
		if n, err = store.ParseID("R", ref); err == nil {
			var rc *store.RollCall
			if rc, err = a.st.RollCall(ctx, n); err == nil {
				var people []store.RollCallPerson
				if people, err = a.st.RollCallSample(ctx, n, notify.TallyLimit); err == nil {
					return tallyCard(a.cfg(), rc, people), true
				}
			}
		}
	default:
		return card{}, false
	}
	a.log.Warn("slack card not rendered", zap.String("ref", ref), zap.Error(err))
	return card{}, false
}

// task reads the task ref (T-n).
func (a *Adapter) task(ctx context.Context, ref string) (*store.Task, error) {
	n, err := store.ParseID("T", ref)
	if err != nil {
		return nil, err
	}
	return a.st.Task(ctx, n)
}

// cardTS is the ts of ref's first card in channel, to thread under; ""
// when it has none there.
func (a *Adapter) cardTS(ctx context.Context, ref, channel string) string {
	locs, err := a.st.Cards(ctx, Platform, ref)
	if err != nil {
		a.log.Warn("slack card lookup failed; posting unthreaded", zap.String("ref", ref), zap.Error(err))
		return ""
	}
	var tss []string
	for _, l := range locs {
		if ch, ts, ok := strings.Cut(l, "/"); ok && ch == channel {
			tss = append(tss, ts)
		}
	}
	if len(tss) == 0 {
		return ""
	}
	// Slack timestamps of one channel sort as text when their integer
	// parts have the same length, which holds for centuries.
	sort.Strings(tss)
	return tss[0]
}

// openDM returns the DM channel with a Slack user (conversations.open),
// remembering it.
func (a *Adapter) openDM(ctx context.Context, user string) (string, error) {
	a.mu.Lock()
	ch := a.dms[user]
	a.mu.Unlock()
	if ch != "" {
		return ch, nil
	}
	c, _, _, err := a.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}})
	if err != nil {
		return "", fmt.Errorf("conversations.open %s: %w", user, err)
	}
	if c == nil || c.ID == "" {
		return "", fmt.Errorf("conversations.open %s: no channel in the answer", user)
	}
	a.mu.Lock()
	a.dms[user] = c.ID
	a.mu.Unlock()
	return c.ID, nil
}
