package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The durable outbox. Transitions append messages to the `outbox` stream
// (enqueue in lua/prelude.lua), in the same script as the change they
// announce. Delivery then works in two stages:
//
//  1. Route: a process reads new stream entries through one consumer group
//     and moves each, atomically, into its delivery lane (RouteOutbox). A
//     process that dies between reading and routing leaves the entry
//     pending in the group, and another takes it over after a lease
//     (ReclaimOutbox).
//  2. Send: a lane is a sorted set of message ids scored by the time each
//     may next be sent. Senders take messages under a lease (TakeOutbox),
//     paced per sender when the lane is paced, send them, and record the
//     outcome (FinishOutbox, RetryOutbox, FailOutbox). A taker that dies
//     mid-send leaves the message to be taken again when its lease ends.
//
// Each channel and sender has its own lane, so chat posts never wait
// behind a paced SMS call-out.
const outboxGroup = "delivery"

// OutboxEntry is one message read from the outbox stream, or taken from a
// lane.
type OutboxEntry struct {
	ID     string // stream entry id; the message keeps it in its lane
	Msg    OutMessage
	Queued time.Time
	// Attempts counts the takes, this one included (lanes only).
	Attempts int
	// LastError is the error of the previous attempt, if any (lanes only).
	LastError string
	// Lane is the lane the message was taken from (lanes only).
	Lane string
	// Unsure says an earlier attempt may have delivered the message
	// without its outcome being recorded: its taker died or ran out of
	// its lease mid-send, or its error was OutcomeUnknown (lanes only; see
	// lua/outbox_take.lua). It stays set for every later attempt. A
	// notifier whose provider takes no idempotency key looks the message
	// up before sending it again.
	Unsure bool
	// First is when the message was first taken (lanes only): an earlier
	// attempt's send cannot be older.
	First time.Time
	// NotBefore is the lane's sending slot the take reserved for it
	// (Pace.Ahead): it must not be sent earlier. Zero: send now.
	NotBefore time.Time
	// Direct: the message is sent straight from the stream (an unpaced
	// lane): it is pending in the consumer group under this process, in
	// no lane, until its outcome is recorded.
	Direct bool
}

// OutcomeUnknown, in the error text RetryOutbox records, marks a failed
// attempt whose request may have reached the provider all the same (a
// timeout or a dropped connection after the request was written): the
// next take marks the message Unsure. lua/outbox_take.lua looks for this
// text.
const OutcomeUnknown = "outcome unknown"

// EnsureOutbox creates the outbox stream and its consumer group.
func (s *Store) EnsureOutbox(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(s.carry(ctx), s.Key("outbox"), outboxGroup, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return unavailable(err)
	}
	return nil
}

// ReadOutbox waits up to block for new messages for this consumer (a
// negative block does not wait).
func (s *Store) ReadOutbox(ctx context.Context, consumer string, count int, block time.Duration) ([]OutboxEntry, error) {
	res, err := s.rdb.XReadGroup(s.carry(ctx), &redis.XReadGroupArgs{
		Group: outboxGroup, Consumer: consumer, Streams: []string{s.Key("outbox"), ">"},
		Count: int64(count), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			if e := s.EnsureOutbox(ctx); e != nil {
				return nil, e
			}
			return nil, nil
		}
		return nil, unavailable(err)
	}
	var out []OutboxEntry
	for _, st := range res {
		for _, m := range st.Messages {
			out = append(out, OutboxEntryOf(m))
		}
	}
	return out, nil
}

// ReclaimOutbox takes over stream entries another consumer read but did
// not route within minIdle (its process died).
func (s *Store) ReclaimOutbox(ctx context.Context, consumer string, minIdle time.Duration, count int) ([]OutboxEntry, error) {
	msgs, _, err := s.rdb.XAutoClaim(s.carry(ctx), &redis.XAutoClaimArgs{
		Stream: s.Key("outbox"), Group: outboxGroup, Consumer: consumer, MinIdle: minIdle, Start: "0-0", Count: int64(count),
	}).Result()
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			return nil, s.EnsureOutbox(ctx)
		}
		return nil, unavailable(err)
	}
	out := make([]OutboxEntry, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, OutboxEntryOf(m))
	}
	return out, nil
}

// Route is where RouteOutbox puts one stream entry.
type Route struct {
	ID   string
	Lane string
	// Capacity, when > 0, is the most messages the lane may hold; a message
	// beyond it is refused.
	Capacity int64
	// Unsure: the entry was taken over from a process that may have sent
	// it (direct) before it died; the notifier looks it up before sending
	// it again.
	Unsure bool
	// Pace, for a paced lane, lets the entry skip the lane when the lane
	// is empty and the sender has a slot within Pace.Ahead: it is then
	// sent straight from the stream (RouteDirect). Zero: always the lane.
	Pace Pace
	// Task is the task the entry names ('' for none), as read with it:
	// a straight one is dropped when its task has closed, without the
	// entry being read again.
	Task string
}

// Route results.
const (
	RouteOK      = "ok"
	RouteGone    = "gone"    // another process routed it first
	RouteRefused = "refused" // the lane is at capacity
	// RouteDirect: the lane was empty and the sender had a slot: send
	// it straight from the stream (OutboxEntry.Direct), not before
	// Routed.NotBefore.
	RouteDirect = "direct"
	// RouteDropped: about a task that closed; gone without a record.
	RouteDropped = "dropped"
)

// Routed is the outcome of one Route.
type Routed struct {
	ID      string `json:"id"`
	Result  string `json:"result"`
	Task    string `json:"task"`
	Key     string `json:"key"`
	Channel string `json:"channel"`
	To      string `json:"to"`
	At      string `json:"at"`
	// NotBefore is a direct one's slot (zero: send now).
	NotBefore time.Time `json:"-"`
}

var (
	routeScript  = loadScript("outbox_route")
	finishScript = loadScript("outbox_finish")
)

// RouteOutbox moves stream entries into their lanes, each in one atomic
// step (see lua/outbox_route.lua).
func (s *Store) RouteOutbox(ctx context.Context, routes []Route) ([]Routed, error) {
	if len(routes) == 0 {
		return nil, nil
	}
	type routeJSON struct {
		ID       string `json:"id"`
		Lane     string `json:"lane"`
		Capacity int64  `json:"capacity"`
		Unsure   bool   `json:"unsure"`
		Interval int64  `json:"interval"`
		Burst    int64  `json:"burst"`
		Ahead    int64  `json:"ahead"`
		Task     string `json:"task"`
	}
	in := make([]routeJSON, len(routes))
	for i, r := range routes {
		interval, burst := r.Pace.micros()
		in[i] = routeJSON{ID: r.ID, Lane: r.Lane, Capacity: r.Capacity, Unsure: r.Unsure, Interval: interval, Burst: burst,
			Ahead: r.Pace.Ahead.Microseconds(), Task: r.Task}
	}
	now := s.now()
	v, err := s.run(ctx, routeScript, ms(now), outboxGroup, mustJSON(in), now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("route outbox: %w", err)
	}
	var out jsonList[Routed]
	if err := json.Unmarshal([]byte(toString(v)), &out); err != nil {
		return nil, unavailable(fmt.Errorf("route outbox: reply: %w", err))
	}
	for i := range out {
		out[i].NotBefore = fromMicro(toInt(out[i].At))
	}
	return out, nil
}

// Pace limits how fast a lane is sent: Rate messages per second, with
// Burst messages allowed at once after an idle spell (at least 1). A zero
// Rate is unpaced.
type Pace struct {
	Rate  float64
	Burst int
	// Ahead is how far ahead a take may reserve the lane's next sending
	// slots (lua/outbox_take.lua): a lane paced at thousands a second is
	// then taken many messages a script, each held until its slot
	// (OutboxEntry.NotBefore). 0 reserves none.
	Ahead time.Duration
}

// micros is the pace as the scripts take it: the interval between sends
// and the burst tolerance, in µs (0, 0: unpaced).
func (p Pace) micros() (interval, burst int64) {
	if p.Rate > 0 {
		interval = int64(1e6 / p.Rate)
		if p.Burst > 1 {
			burst = interval * int64(p.Burst-1)
		}
	}
	return interval, burst
}

// Take asks TakeOutbox for messages.
type Take struct {
	Lane  string
	Limit int
	// Now is the taker's clock; the lease runs from it.
	Now   time.Time
	Lease time.Duration
	Token string
	Pace  Pace
}

// Taken is what TakeOutbox took.
type Taken struct {
	Entries []OutboxEntry
	// Dropped were about tasks that closed meanwhile; they are gone.
	Dropped []OutMessage
	// Wait is how long pacing holds the next send back (0: not held).
	Wait time.Duration
	// Next is when the lane's earliest waiting message is due (zero when
	// the lane is empty). It may be in the past while pacing holds.
	Next time.Time
}

// TakeOutbox takes up to t.Limit due messages of a lane under a lease,
// as pacing allows (see lua/outbox_take.lua).
func (s *Store) TakeOutbox(ctx context.Context, t Take) (*Taken, error) {
	interval, burst := t.Pace.micros()
	limit := max(t.Limit, 1)
	var ahead int64
	if interval > 0 {
		ahead = t.Pace.Ahead.Microseconds()
	}
	v, err := s.run(ctx, takeScript, ms(t.Now), t.Now.UnixMicro(), t.Lane, limit, ms(t.Now.Add(t.Lease)), t.Token, interval, burst, ahead)
	if err != nil {
		return nil, fmt.Errorf("take from lane %s: %w", t.Lane, err)
	}
	type takenJSON struct {
		ID        string `json:"id"`
		Key       string `json:"key"`
		Channel   string `json:"channel"`
		To        string `json:"to"`
		Site      string `json:"site"`
		Kind      string `json:"kind"`
		Ref       string `json:"ref"`
		Text      string `json:"text"`
		Task      string `json:"task"`
		Drill     string `json:"drill"`
		Queued    string `json:"queued"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"last_error"`
		Unsure    bool   `json:"unsure"`
		First     string `json:"first"`
		At        string `json:"at"`
		// M is an escalation step's message as JSON (its other message
		// fields are then empty).
		M string `json:"m"`
	}
	msgOf := func(m takenJSON) OutMessage {
		if m.M != "" {
			var out OutMessage
			if err := json.Unmarshal([]byte(m.M), &out); err == nil {
				return out
			}
		}
		return OutMessage{Key: m.Key, Channel: m.Channel, To: m.To, Site: m.Site, Kind: m.Kind, Ref: m.Ref,
			Text: m.Text, Task: m.Task, Drill: m.Drill}
	}
	var res struct {
		Wait    float64             `json:"wait"`
		Next    float64             `json:"next"`
		Taken   jsonList[takenJSON] `json:"taken"`
		Dropped jsonList[takenJSON] `json:"dropped"`
	}
	if err := json.Unmarshal([]byte(toString(v)), &res); err != nil {
		return nil, unavailable(fmt.Errorf("take from lane %s: reply: %w", t.Lane, err))
	}
	out := &Taken{Wait: time.Duration(res.Wait) * time.Microsecond}
	if res.Next > 0 {
		out.Next = time.UnixMilli(int64(res.Next))
	}
	for _, m := range res.Taken {
		out.Entries = append(out.Entries, OutboxEntry{
			ID: m.ID, Queued: fromMS(toInt(m.Queued)), Attempts: m.Attempts, LastError: m.LastError, Lane: t.Lane,
			Unsure: m.Unsure, First: fromMS(toInt(m.First)), NotBefore: fromMicro(toInt(m.At)), Msg: msgOf(m),
		})
	}
	for _, m := range res.Dropped {
		d := msgOf(m)
		out.Dropped = append(out.Dropped, OutMessage{Key: d.Key, Channel: d.Channel, To: d.To, Task: d.Task})
	}
	return out, nil
}

// FinishOutbox records that a taken message was sent (an audit event,
// which its task's timeline shows) and takes it off its lane, or, for a
// direct one, acknowledges it in the consumer group.
func (s *Store) FinishOutbox(ctx context.Context, e OutboxEntry, token string) error {
	_, err := s.finish(ctx, e, token, "sent", time.Time{}, "")
	if err != nil {
		return fmt.Errorf("finish %s: %w", e.ID, err)
	}
	return nil
}

// FailOutbox records that a taken message will never be sent (audited:
// its task's timeline shows it) and takes it off its lane.
func (s *Store) FailOutbox(ctx context.Context, e OutboxEntry, token, reason string) error {
	_, err := s.finish(ctx, e, token, "failed", time.Time{}, reason)
	if err != nil {
		return fmt.Errorf("fail %s: %w", e.ID, err)
	}
	return nil
}

// DropOutbox takes a taken message off its lane without recording it
// sent or failed: its task closed before it went out.
func (s *Store) DropOutbox(ctx context.Context, e OutboxEntry, token string) error {
	_, err := s.finish(ctx, e, token, "dropped", time.Time{}, "")
	if err != nil {
		return fmt.Errorf("drop %s: %w", e.ID, err)
	}
	return nil
}

// RetryOutbox puts a taken message back on its lane (a direct one into
// it), due at, if token still holds it. It reports false when the message
// was gone or taken over by another process meanwhile.
func (s *Store) RetryOutbox(ctx context.Context, e OutboxEntry, token string, at time.Time, reason string) (bool, error) {
	res, err := s.finish(ctx, e, token, "retry", at, reason)
	if err != nil {
		return false, fmt.Errorf("retry %s: %w", e.ID, err)
	}
	return res == "ok", nil
}

// outcome is one send's outcome waiting to be recorded.
type outcome struct {
	e              OutboxEntry
	token, what    string
	at             time.Time
	detail, result string
}

// newFinisher records outbox outcomes in batches (lua/outbox_finish.lua).
func (s *Store) newFinisher() *groupCommit[*outcome] {
	return newGroupCommit(s.finishBatch)
}

func (s *Store) finish(ctx context.Context, e OutboxEntry, token, what string, at time.Time, detail string) (string, error) {
	o, err := s.finisher.commit(ctx, &outcome{e: e, token: token, what: what, at: at, detail: detail})
	if err != nil {
		return "", err
	}
	return o.result, nil
}

// finishBatch runs one script for a batch of outcomes and hands each its
// result.
func (s *Store) finishBatch(ctx context.Context, batch []*committing[*outcome]) {
	args := make([]any, 0, 3+len(batch)*10)
	args = append(args, ms(s.now()), outboxGroup, len(batch))
	for _, c := range batch {
		o := c.v
		direct, m := "", o.e.Msg
		if o.e.Direct {
			direct = "1"
		}
		retryAt := int64(0)
		if !o.at.IsZero() {
			retryAt = ms(o.at)
		}
		ch := m.Channel
		if ch == "" {
			ch = "chat"
		}
		var data string
		switch o.what {
		case "sent":
			data = auditData(map[string]any{"key": m.Key, "channel": ch, "to": m.To, "site": m.Site, "kind": m.Kind, "task": m.Task})
		case "failed":
			data = auditData(map[string]any{"key": m.Key, "channel": ch, "to": m.To, "site": m.Site, "kind": m.Kind, "task": m.Task,
				"error": o.detail})
		}
		args = append(args, o.e.ID, o.what, o.detail, retryAt, o.token, direct, o.e.Lane, m.Ref, data, ch)
		if o.e.Direct && o.what == "retry" {
			// Into its lane, which needs the whole message.
			args = append(args, m.Key, m.To, m.Site, m.Kind, m.Ref, m.Text, m.Task, m.Drill, ms(o.e.Queued))
		}
	}
	v, err := s.run(ctx, finishScript, args...)
	res, _ := v.([]any)
	for i, c := range batch {
		switch {
		case err != nil:
			c.err = err
		case i < len(res):
			c.v.result = toString(res[i])
		default:
			c.err = unavailable(fmt.Errorf("outbox finish: %d results for %d outcomes", len(res), len(batch)))
		}
	}
}

// LiveOutbox sorts direct entries (just read from the stream) into those
// to send and those about a task that closed since they were queued (to
// drop), reading the tasks' status in one round trip.
func (s *Store) LiveOutbox(ctx context.Context, entries []OutboxEntry) (live, closed []OutboxEntry, err error) {
	pipe := s.rdb.Pipeline()
	cmds := map[string]*redis.StringCmd{} // one read per task
	for _, e := range entries {
		if t := e.Msg.Task; t != "" && cmds[t] == nil {
			cmds[t] = pipe.HGet(ctx, s.Key("task", t), "status")
		}
	}
	if len(cmds) > 0 {
		if _, err := pipe.Exec(s.carry(ctx)); err != nil && !errors.Is(err, redis.Nil) {
			return nil, nil, unavailable(err)
		}
	}
	for _, e := range entries {
		if c := cmds[e.Msg.Task]; c != nil {
			// A task that is gone, or no longer open, gets no more notices
			// (one gone unanswered still does: see lua/outbox_take.lua).
			if st := c.Val(); st != TaskOpen && st != TaskUnanswered {
				closed = append(closed, e)
				continue
			}
		}
		live = append(live, e)
	}
	return live, closed, nil
}

// OutboxLanes lists the lanes that have held messages.
func (s *Store) OutboxLanes(ctx context.Context) ([]string, error) {
	v, err := s.rdb.SMembers(s.carry(ctx), s.Key("outbox", "lanes")).Result()
	return v, unavailable(err)
}

// LaneLen is how many messages wait in a lane (taken ones included).
func (s *Store) LaneLen(ctx context.Context, lane string) (int64, error) {
	n, err := s.rdb.ZCard(s.carry(ctx), s.Key("outbox", "lane", lane)).Result()
	return n, unavailable(err)
}

// OutboxLen is how many messages wait in the outbox: in the stream (not
// yet read, or read and not yet done) and in every lane. Entries done are
// trimmed from the stream in batches, so its length says little.
func (s *Store) OutboxLen(ctx context.Context) (int64, error) {
	key := s.Key("outbox")
	groups, err := s.rdb.XInfoGroups(s.carry(ctx), key).Result()
	if err != nil && !strings.Contains(err.Error(), "no such key") {
		return 0, unavailable(err)
	}
	var n int64
	last := ""
	for _, g := range groups {
		if g.Name == outboxGroup {
			n, last = g.Pending, g.LastDeliveredID
		}
	}
	start := "-"
	if last != "" && last != "0-0" {
		start = "(" + last
	}
	unread, err := s.rdb.XRange(s.carry(ctx), key, start, "+").Result()
	if err != nil {
		return 0, unavailable(err)
	}
	n += int64(len(unread))
	lanes, err := s.OutboxLanes(ctx)
	if err != nil {
		return 0, err
	}
	for _, l := range lanes {
		k, err := s.LaneLen(ctx, l)
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}

// OutboxEntryOf reads an entry of the outbox stream. An escalation
// step's entry keeps its message as JSON in one field (m), which costs
// Redis one string where nine fields cost nine names and nine values at
// every write and read; other entries have a field each.
func OutboxEntryOf(m redis.XMessage) OutboxEntry {
	e := OutboxEntry{ID: m.ID, Queued: fromMS(toInt(m.Values["queued"]))}
	if packed, ok := m.Values["m"].(string); ok {
		if err := json.Unmarshal([]byte(packed), &e.Msg); err == nil {
			return e
		}
	}
	v := func(k string) string { return toString(m.Values[k]) }
	e.Msg = OutMessage{
		Key: v("key"), Channel: v("channel"), To: v("to"), Site: v("site"), Kind: v("kind"),
		Ref: v("ref"), Text: v("text"), Task: v("task"), Drill: v("drill"),
	}
	return e
}

// jsonList decodes a JSON array, and also the empty object that Redis's
// cjson writes for an empty Lua table.
type jsonList[T any] []T

// UnmarshalJSON accepts an array or {}.
func (l *jsonList[T]) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimSpace(b); bytes.Equal(t, []byte("{}")) || bytes.Equal(t, []byte("null")) {
		*l = nil
		return nil
	}
	var xs []T
	if err := json.Unmarshal(b, &xs); err != nil {
		return err
	}
	*l = xs
	return nil
}

// StepKey is the idempotency key of a task notice: one message per task,
// escalation step and channel, however often the step is run or its
// message queued. Its text form, "T-n:step:channel", is what the outbox
// stores (OutMessage.Key).
type StepKey struct {
	Task    int64
	Step    int
	Channel string
}

// String is the key as the outbox stores it: "T-3:1:sms".
func (k StepKey) String() string { return fmt.Sprintf("T-%d:%d:%s", k.Task, k.Step, k.Channel) }

// ParseStepKey reads a task notice's key back; ok is false for the keys
// of every other message (broadcasts, unanswered notices, reminders).
func ParseStepKey(key string) (k StepKey, ok bool) {
	parts := strings.Split(key, ":")
	if len(parts) != 3 || parts[2] == "" {
		return StepKey{}, false
	}
	n, err := ParseID("T", parts[0])
	if err != nil || !strings.HasPrefix(strings.ToUpper(parts[0]), "T-") {
		return StepKey{}, false
	}
	st, err := strconv.Atoi(parts[1])
	if err != nil || st < 0 {
		return StepKey{}, false
	}
	return StepKey{Task: n, Step: st, Channel: parts[2]}, true
}

// WakeChannel is the pub/sub channel scripts publish to when a deadline
// may have moved earlier.
func (s *Store) WakeChannel() string { return s.Key("wake") }

// SubscribeWake subscribes to deadline changes. Close the PubSub when done.
func (s *Store) SubscribeWake(ctx context.Context) *redis.PubSub {
	return s.rdb.Subscribe(s.carry(ctx), s.WakeChannel())
}

// MaybeSent is when an earlier attempt may have sent a taken message, at
// the earliest: its first take, or its queueing for an entry taken before
// takes were stamped. It is zero unless the entry is Unsure.
func (e OutboxEntry) MaybeSent() time.Time {
	switch {
	case !e.Unsure:
		return time.Time{}
	case !e.First.IsZero():
		return e.First
	}
	return e.Queued
}
