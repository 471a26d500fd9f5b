package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
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
	// ErrClosed: the adapter is shutting down.
	ErrClosed = errors.New("slack: adapter closed")
)

// Retry limits for one job.
const (
	maxRateLimited = 5 // 429s honoured before giving up
	maxRetries     = 3 // other retryable failures
)

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
	channel string         // a channel id; empty for a DM not yet opened
	user    string         // the Slack user id of a DM
	ts      string         // opUpdate: the message to edit
	ref     string         // opUpdate: the record it shows
}

// queue is one channel's line of jobs; one worker drains it, at most one
// call per PostInterval.
type queue struct {
	key string
	ch  chan job
}

// Notify shows a chat message in Slack: m.Site posts to the site's
// channel, m.To to the person's DM. Incidents (Ref INC-n) become incident
// cards, task notices (Ref T-n) task cards, an incident's updates go into
// its card's thread, and anything else is posted as escaped text.
//
// Notify only queues the message (Slack allows one post per second per
// channel, and the caller may be a command that must answer within three
// seconds); the queue's worker posts it, retrying a 429 after its
// Retry-After and a transient failure with backoff, and logs a failure it
// gives up on. The error is ErrNoDestination (retry false) when Slack has
// nowhere to show m, and ErrQueueFull or ErrClosed (retry true) when it
// cannot take it now.
func (a *Adapter) Notify(_ context.Context, m notify.Message) (bool, error) {
	if m.Channel != "" && m.Channel != notify.Chat {
		return false, fmt.Errorf("%w: channel %q is not chat", ErrNoDestination, m.Channel)
	}
	j := job{op: opPost, msg: m}
	key := ""
	switch {
	case m.Site != "":
		site, ok := a.cfg.Site(m.Site)
		if !ok || site.Channels.Slack == "" {
			return false, fmt.Errorf("%w: site %q", ErrNoDestination, m.Site)
		}
		j.channel, key = site.Channels.Slack, site.Channels.Slack
	case m.To != "":
		p, ok := a.cfg.Person(m.To)
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
	if err := a.enqueue(key, j); err != nil {
		return true, err
	}
	return false, nil
}

// enqueue adds j to the queue named key, starting its worker on first use.
func (a *Adapter) enqueue(key string, j job) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	q := a.queues[key]
	if q == nil {
		q = &queue{key: key, ch: make(chan job, a.qsize)}
		a.queues[key] = q
		a.wg.Add(1)
		go a.work(q)
	}
	a.pending++
	a.mu.Unlock()
	select {
	case q.ch <- j:
		return nil
	default:
		a.jobDone()
		a.log.Warn("slack queue full; message refused", zap.String("queue", key), zap.Int("size", a.qsize))
		return ErrQueueFull
	}
}

// work drains one queue until the adapter closes, keeping PostInterval
// between calls on the adapter's clock.
func (a *Adapter) work(q *queue) {
	defer a.wg.Done()
	var last time.Time
	for {
		select {
		case <-a.ctx.Done():
			if n := len(q.ch); n > 0 {
				a.log.Warn("slack queue dropped at shutdown", zap.String("queue", q.key), zap.Int("jobs", n))
			}
			return
		case j := <-q.ch:
			a.run(q.key, j, &last)
			a.jobDone()
		}
	}
}

// pace waits until PostInterval has passed since *last.
func (a *Adapter) pace(last time.Time) bool {
	if last.IsZero() {
		return true
	}
	if wait := last.Add(a.every).Sub(a.clock.Now()); wait > 0 {
		return a.sleep(wait)
	}
	return true
}

// sleep waits d on the adapter's clock; false when the adapter closed.
func (a *Adapter) sleep(d time.Duration) bool {
	c, stop := a.clock.After(d)
	defer stop()
	select {
	case <-c:
		return true
	case <-a.ctx.Done():
		return false
	}
}

// run performs one job with its retries. *last is when this queue last
// called Slack.
func (a *Adapter) run(key string, j job, last *time.Time) {
	ctx := a.ctx
	limited, failed := 0, 0
	for {
		if !a.pace(*last) {
			return
		}
		err := a.attempt(ctx, &j)
		*last = a.clock.Now()
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
			a.log.Info("slack rate limited; waiting", zap.String("queue", key), zap.Duration("retry_after", wait))
			if !a.sleep(wait) {
				return
			}
			continue
		case retryable(err) && failed < maxRetries:
			failed++
			if !a.sleep(time.Duration(1<<(failed-1)) * time.Second) {
				return
			}
			continue
		}
		a.log.Warn("slack delivery failed", zap.String("queue", key), zap.String("ref", j.ref+j.msg.Ref),
			zap.String("kind", j.msg.Kind), zap.Error(err))
		return
	}
}

// retryable reports whether a failed call might succeed if tried again.
func retryable(err error) bool {
	var (
		sc  slack.StatusCodeError
		se  slack.SlackErrorResponse
		ne  net.Error
		ue  *url.Error
		rle *slack.RateLimitedError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &rle):
		return true
	case errors.As(err, &sc):
		return sc.Code >= 500
	case errors.As(err, &se):
		switch se.Err {
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited":
			return true
		}
		return false
	case errors.As(err, &ne), errors.As(err, &ue):
		return true
	}
	return false
}

// attempt makes one try at a job.
func (a *Adapter) attempt(ctx context.Context, j *job) error {
	if j.op == opUpdate {
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
	case isRef && (kind == "INC" || kind == "T") && m.Kind != "update":
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
	ch, ts, err := a.api.PostMessageContext(ctx, j.channel, opts...)
	if err != nil {
		return fmt.Errorf("chat.postMessage %s to %s: %w", m.Ref, j.channel, err)
	}
	a.log.Debug("slack message posted", zap.String("ref", m.Ref), zap.String("kind", m.Kind), zap.String("channel", ch))
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
				return incidentCard(a.cfg, inc), true
			}
		}
	case "T":
		var n int64
		if n, err = store.ParseID("T", ref); err == nil {
			var t *store.Task
			if t, err = a.st.Task(ctx, n); err == nil {
				return taskCard(a.cfg, t), true
			}
		}
	default:
		return card{}, false
	}
	a.log.Warn("slack card not rendered", zap.String("ref", ref), zap.Error(err))
	return card{}, false
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
