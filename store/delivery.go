package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	statusScript  = loadScript("delivery_status")
	advanceScript = loadScript("delivery_advance")
	optinScript   = loadScript("delivery_optin")
)

// Delivery is what a provider id (a Twilio message or call SID) maps back
// to: the message muster sent.
type Delivery struct {
	Task    int64  // 0 when the message was not about a task
	Key     string // the message's idempotency key, "T-3:1:sms"
	Channel string
	To      string // person id
}

// Delivery status results.
const (
	DeliveryRecorded = "ok"
	DeliveryDup      = "dup"     // this status of this message was recorded before
	DeliveryUnknown  = "unknown" // no message with that id (sent by someone else, or expired)
)

// RecordDelivery records a delivery status of a message or call muster
// sent (Twilio's status callback) in its task's timeline, once per status.
// failed says the status means the person was not reached (undelivered,
// failed, busy, no-answer), which is also written to the audit log. It
// returns what the id maps to and whether the status was new.
func (s *Store) RecordDelivery(ctx context.Context, providerID, status, errorCode string, failed bool) (Delivery, string, error) {
	v, err := s.run(ctx, statusScript, ms(s.now()), providerID, status, errorCode, flag(failed), deliveryDays)
	if err != nil {
		return Delivery{}, "", fmt.Errorf("delivery status %s: %w", providerID, err)
	}
	var res struct {
		Result  string `json:"result"`
		Task    string `json:"task"`
		Key     string `json:"key"`
		Channel string `json:"channel"`
		To      string `json:"to"`
	}
	if err := json.Unmarshal([]byte(toString(v)), &res); err != nil {
		return Delivery{}, "", unavailable(fmt.Errorf("delivery status %s: reply: %w", providerID, err))
	}
	return Delivery{Task: toInt(res.Task), Key: res.Key, Channel: res.Channel, To: res.To}, res.Result, nil
}

// Advance results.
const (
	AdvanceOK      = "ok"
	AdvanceClosed  = "closed"  // the task is no longer open
	AdvanceMoved   = "moved"   // a later step ran meanwhile
	AdvanceRunning = "running" // an engine is running the step now
	AdvanceDue     = "due"     // the next step is already due
	AdvanceGone    = "gone"    // no such task
)

// AdvanceTask makes a task's next escalation step due now, because the
// step that ran could not reach the person. It only moves the timer if
// the task is still open and step is still the step it will run next, so
// a late report about an old step changes nothing (see
// lua/delivery_advance.lua). reason goes to the timeline.
func (s *Store) AdvanceTask(ctx context.Context, task int64, step int, reason string) (string, error) {
	v, err := s.run(ctx, advanceScript, ms(s.now()), task, strconv.Itoa(step), reason)
	if err != nil {
		return "", fmt.Errorf("advance %s: %w", FormatID("T", task), err)
	}
	return toString(v), nil
}

// AdvanceAfter advances the task of a message whose step failed to reach
// its person: the message's key says which step ran ("T-3:1:sms" ran step
// 1, so step 2 is the one made due). Messages that are not task notices
// change nothing and return AdvanceGone.
func (s *Store) AdvanceAfter(ctx context.Context, key, reason string) (string, error) {
	k, ok := ParseStepKey(key)
	if !ok {
		return AdvanceGone, nil
	}
	return s.AdvanceTask(ctx, k.Task, k.Step+1, reason)
}

// RecordSMSOptIn records that a phone number sent STOP (out true) or START
// to the SMS number. person is "" for an unknown number; maskedPhone is
// what the audit log shows.
func (s *Store) RecordSMSOptIn(ctx context.Context, person, maskedPhone, keyword string, out bool) error {
	_, err := s.run(ctx, optinScript, ms(s.now()), person, maskedPhone, keyword, flag(out))
	if err != nil {
		return fmt.Errorf("record sms %s: %w", keyword, err)
	}
	return nil
}

// SMSOptedOut reports whether a person has sent STOP (and not START since).
func (s *Store) SMSOptedOut(ctx context.Context, person string) (bool, error) {
	n, err := s.rdb.HExists(s.carry(ctx), s.Key("sms", "optout"), person).Result()
	return n, unavailable(err)
}

// DeliveryTTL is how long a provider id maps back to its message: Twilio
// reports delivery within minutes, rarely after days.
const DeliveryTTL = 7 * 24 * time.Hour

// Provider ids are remembered in one hash per UTC day (twilio:sids:<day
// number>), a field per id: a call-out's thousands of SIDs cost Redis a
// field each in a hash it already has, where a key of their own each
// (with its expiry) cost about as much Redis CPU as the rest of the SMS's
// delivery. A day's hash expires DeliveryTTL after the day ends. The
// status callback (lua/delivery_status.lua) and DeliveryKeys look in the
// days an id can be in: from the day after today (another process's
// clock may be ahead) back to DeliveryTTL before today.
const deliveryDay = 24 * time.Hour

// deliveryDays is how many days' hashes a lookup reads: tomorrow, today
// and the DeliveryTTL's days before today.
const deliveryDays = int(DeliveryTTL/deliveryDay) + 2

// deliveryField packs what an id maps to into its field's value: task,
// key, channel, to and the record's reference, separated by the unit
// separator (none of them holds one: keys, channels, person ids and
// references are muster's own words).
func deliveryField(d Delivery) string {
	task := ""
	if d.Task > 0 {
		task = strconv.FormatInt(d.Task, 10)
	}
	return strings.Join([]string{task, d.Key, d.Channel, d.To, refOf(d)}, "\x1f")
}

// deliveryDayKey is the hash of the provider ids remembered on day (days
// since the Unix epoch, UTC).
func (s *Store) deliveryDayKey(day int64) string {
	return s.Key("twilio", "sids", strconv.FormatInt(day, 10))
}

// MapDelivery remembers which message a provider id (a Twilio SID) is,
// so its delivery status callbacks find the task. Concurrent calls are
// remembered together, in one transaction (newMapper).
func (s *Store) MapDelivery(ctx context.Context, providerID string, d Delivery) error {
	_, err := s.mapper.commit(ctx, mapping{id: providerID, d: d})
	if err != nil {
		return fmt.Errorf("map %s: %w", providerID, err)
	}
	return nil
}

// mapping is one provider id MapDelivery remembers.
type mapping struct {
	id string
	d  Delivery
}

// newMapper remembers provider ids in batches: a call-out's SIDs arrive
// hundreds a second, each its own transaction before.
func (s *Store) newMapper() *groupCommit[mapping] {
	return newGroupCommit(s.mapBatch)
}

// mapBatch remembers a batch of provider ids in one transaction: one
// HSET of today's hash with a field per id, and the hash's expiry.
func (s *Store) mapBatch(ctx context.Context, batch []*committing[mapping]) {
	day := s.now().UnixMilli() / deliveryDay.Milliseconds()
	k := s.deliveryDayKey(day)
	fields := make([]any, 0, 2*len(batch))
	for _, c := range batch {
		fields = append(fields, c.v.id, deliveryField(c.v.d))
	}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, k, fields...)
	// Relative to the store's clock, not an absolute time: a day's hash
	// lives DeliveryTTL past the day's end whatever the clock says.
	pipe.PExpire(ctx, k, time.Duration((day+1)*deliveryDay.Milliseconds()-s.now().UnixMilli())*time.Millisecond+DeliveryTTL)
	_, err := pipe.Exec(s.carry(ctx))
	for _, c := range batch {
		c.err = unavailable(err)
	}
}

// DeliveryKeys says which message each provider id was sent for: the
// idempotency key MapDelivery remembered, or "" for an id muster does not
// know. One round trip: an HMGET of each day's hash an id can be in.
func (s *Store) DeliveryKeys(ctx context.Context, providerIDs []string) ([]string, error) {
	out := make([]string, len(providerIDs))
	if len(providerIDs) == 0 {
		return out, nil
	}
	today := s.now().UnixMilli() / deliveryDay.Milliseconds()
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, 0, deliveryDays)
	for day := today + 1; day > today+1-int64(deliveryDays); day-- {
		cmds = append(cmds, pipe.HMGet(ctx, s.deliveryDayKey(day), providerIDs...))
	}
	if _, err := pipe.Exec(s.carry(ctx)); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	for _, c := range cmds {
		for i, v := range c.Val() {
			if f, ok := v.(string); ok && out[i] == "" {
				if parts := strings.Split(f, "\x1f"); len(parts) > 1 {
					out[i] = parts[1]
				}
			}
		}
	}
	return out, nil
}

func refOf(d Delivery) string {
	if d.Task > 0 {
		return FormatID("T", d.Task)
	}
	return ""
}
