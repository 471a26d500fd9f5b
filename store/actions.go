package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Corrective action statuses: open until its owner has done it, done
// until someone has verified whether it worked, then verified.
const (
	ActionOpen     = "open"
	ActionDone     = "done"
	ActionVerified = "verified"
)

// Verdicts of a verification (CorrectiveAction.Effective).
const (
	ActionEffective   = "effective"
	ActionIneffective = "ineffective"
)

// ReviewSubject is the subject of an action a management review decided
// on, rather than one record.
const ReviewSubject = "review"

// CorrectiveAction is an improvement recorded against an incident (INC-n),
// an activation (A-n), a drill (D-n) or a management review: who owns
// it, when it is due, whether it was done and whether it worked.
type CorrectiveAction struct {
	Num int64
	// Subject is INC-n, A-n, D-n or ReviewSubject.
	Subject string
	// Drill is n when Subject is D-n, else 0.
	Drill int64
	// Site is the subject's site ("" for a review's action).
	Site  string
	Text  string
	Owner string // person id
	// Due is the day it is due, YYYY-MM-DD in the organization's zone
	// ("" for an action recorded before actions had one).
	Due     string
	By      string
	Created time.Time
	Status  string // ActionOpen, ActionDone or ActionVerified

	DoneBy   string
	DoneAt   time.Time
	DoneNote string

	VerifiedBy string
	VerifiedAt time.Time
	// Effective is ActionEffective or ActionIneffective once verified.
	Effective  string
	VerifyNote string

	// Reminded names the reminders sent, and when.
	Reminded map[string]time.Time
}

// ID is the human id, CA-3.
func (a *CorrectiveAction) ID() string { return FormatID("CA", a.Num) }

// Finished reports whether the owner has done it (verified or not).
func (a *CorrectiveAction) Finished() bool {
	return a.Status == ActionDone || a.Status == ActionVerified
}

var actionScript = loadScript("action_change")

// NewAction is a corrective action to record.
type NewAction struct {
	// Subject is INC-n, A-n, D-n or ReviewSubject.
	Subject string
	Owner   string
	Due     string // YYYY-MM-DD
	Text    string
	By      string
	// Messages go out with it (telling the owner); their text may hold
	// IDPlaceholder.
	Messages []OutMessage
}

// RecordAction records a corrective action, its audit event
// (action.recorded) and its messages in one script. ErrNotFound when the
// subject is not a record there is.
func (s *Store) RecordAction(ctx context.Context, in NewAction) (*CorrectiveAction, error) {
	now := s.now()
	v, err := s.run(ctx, actionScript, ms(now), "add", in.Subject, in.By, in.Text, in.Owner, in.Due, outJSON(in.Messages))
	if err != nil {
		return nil, fmt.Errorf("add action to %s: %w", in.Subject, err)
	}
	a := &CorrectiveAction{Num: toInt(v), Subject: in.Subject, Text: in.Text, Owner: in.Owner, Due: in.Due, By: in.By,
		Created: time.UnixMilli(ms(now)), Status: ActionOpen}
	if n, err := ParseID("D", in.Subject); err == nil {
		a.Drill = n
	}
	return a, nil
}

// AddAction records a corrective action against drill D-drill, owned by
// whoever recorded it, with no due date. ErrNotFound when there is no
// such drill.
func (s *Store) AddAction(ctx context.Context, drill int64, by, text string) (*CorrectiveAction, error) {
	return s.RecordAction(ctx, NewAction{Subject: FormatID("D", drill), Owner: by, Text: text, By: by})
}

// NotOwnerError refuses marking done someone else's action.
type NotOwnerError struct{ Owner string }

func (e *NotOwnerError) Error() string { return "the action is " + e.Owner + "'s" }

// MarkActionDone marks an open corrective action done (action.done). With
// ownerOnly, only its owner may: a *NotOwnerError otherwise. ErrNotFound,
// or a *StateError when it is not open.
func (s *Store) MarkActionDone(ctx context.Context, num int64, actor, note string, ownerOnly bool) (*CorrectiveAction, error) {
	check := ""
	if ownerOnly {
		check = "owner"
	}
	if _, err := s.run(ctx, actionScript, ms(s.now()), "done", num, actor, note, check); err != nil {
		return nil, fmt.Errorf("close %s: %w", FormatID("CA", num), ownerErr(err))
	}
	return s.Action(ctx, num)
}

// CloseAction marks a corrective action done (action.done), whoever its
// owner. ErrNotFound, or a *StateError when it is not open.
func (s *Store) CloseAction(ctx context.Context, num int64, by, note string) (*CorrectiveAction, error) {
	return s.MarkActionDone(ctx, num, by, note, false)
}

// VerifyAction records whether a done action worked (action.verified):
// verdict is ActionEffective or ActionIneffective. ErrNotFound, or a
// *StateError when it is not done (still open, or verified already).
func (s *Store) VerifyAction(ctx context.Context, num int64, actor, verdict, note string) (*CorrectiveAction, error) {
	if _, err := s.run(ctx, actionScript, ms(s.now()), "verify", num, actor, verdict, note); err != nil {
		return nil, fmt.Errorf("verify %s: %w", FormatID("CA", num), err)
	}
	return s.Action(ctx, num)
}

// RemindAction queues a reminder's messages for an open action, once per
// reminder name (which), with its audit event (action.reminded). sent is
// false when it went out before or the action is no longer open.
func (s *Store) RemindAction(ctx context.Context, num int64, which string, msgs ...OutMessage) (sent bool, err error) {
	v, err := s.run(ctx, actionScript, ms(s.now()), "remind", num, which, outJSON(msgs))
	if err != nil {
		return false, fmt.Errorf("remind %s: %w", FormatID("CA", num), err)
	}
	return toInt(v) == 1, nil
}

func ownerErr(err error) error {
	var rerr redis.Error
	if errors.As(err, &rerr) {
		if owner, ok := strings.CutPrefix(strings.TrimPrefix(rerr.Error(), "ERR "), "notowner:"); ok {
			return &NotOwnerError{Owner: owner}
		}
	}
	return err
}

// Action reads one corrective action.
func (s *Store) Action(ctx context.Context, num int64) (*CorrectiveAction, error) {
	var c *redis.MapStringStringCmd
	if err := s.read(ctx, func(p redis.Pipeliner) {
		c = p.HGetAll(ctx, s.Key("action", strconv.FormatInt(num, 10)))
	}); err != nil {
		return nil, err
	}
	if len(c.Val()) == 0 {
		return nil, ErrNotFound
	}
	return actionFromHash(c.Val()), nil
}

// ActionFilter narrows Actions.
type ActionFilter struct {
	Drill    int64 // 0: every drill
	OpenOnly bool
}

// Actions lists corrective actions, oldest first: two round trips (their
// numbers, then the actions), one when there are none.
func (s *Store) Actions(ctx context.Context, f ActionFilter) ([]*CorrectiveAction, error) {
	set := s.Key("actions")
	switch {
	case f.Drill > 0:
		set = s.Key("drill", strconv.FormatInt(f.Drill, 10), "actions")
	case f.OpenOnly:
		set = s.Key("actions:open")
	}
	var ids *redis.StringSliceCmd
	if err := s.read(ctx, func(p redis.Pipeliner) { ids = p.ZRange(ctx, set, 0, -1) }); err != nil {
		return nil, err
	}
	return s.actionsOf(ctx, ids.Val(), f.OpenOnly)
}

// DrillActions reads a drill and its corrective actions, oldest first:
// the drill and the actions' ids in one round trip, the actions in a
// second (none when there are none).
func (s *Store) DrillActions(ctx context.Context, num int64) (*Drill, []*CorrectiveAction, error) {
	var (
		d   *redis.MapStringStringCmd
		ids *redis.StringSliceCmd
	)
	n := strconv.FormatInt(num, 10)
	if err := s.read(ctx, func(p redis.Pipeliner) {
		d = p.HGetAll(ctx, s.Key("drill", n))
		ids = p.ZRange(ctx, s.Key("drill", n, "actions"), 0, -1)
	}); err != nil {
		return nil, nil, err
	}
	if len(d.Val()) == 0 {
		return nil, nil, ErrNotFound
	}
	list, err := s.actionsOf(ctx, ids.Val(), false)
	return drillFromHash(d.Val()), list, err
}

// actionsOf reads the actions numbered nums in one round trip.
func (s *Store) actionsOf(ctx context.Context, nums []string, openOnly bool) ([]*CorrectiveAction, error) {
	if len(nums) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(nums))
	if err := s.read(ctx, func(p redis.Pipeliner) {
		for i, n := range nums {
			cmds[i] = p.HGetAll(ctx, s.Key("action", n))
		}
	}); err != nil {
		return nil, err
	}
	var out []*CorrectiveAction
	for _, c := range cmds {
		m := c.Val()
		if len(m) == 0 || (openOnly && m["status"] != ActionOpen) {
			continue
		}
		out = append(out, actionFromHash(m))
	}
	return out, nil
}

func actionFromHash(m map[string]string) *CorrectiveAction {
	a := &CorrectiveAction{
		Num: toInt(m["num"]), Subject: m["subject"], Drill: toInt(m["drill"]), Site: m["site"], Text: m["text"], Owner: m["owner"],
		Due: m["due"], By: m["by"], Created: fromMS(toInt(m["created"])), Status: m["status"],
		DoneBy: m["done_by"], DoneAt: fromMS(toInt(m["done_at"])), DoneNote: m["done_note"],
		VerifiedBy: m["verified_by"], VerifiedAt: fromMS(toInt(m["verified_at"])), Effective: m["effective"], VerifyNote: m["verify_note"],
	}
	if a.Subject == "" {
		// Recorded before actions had subjects and owners: a drill's,
		// owned by whoever recorded it.
		a.Subject = FormatID("D", a.Drill)
	}
	if a.Owner == "" {
		a.Owner = a.By
	}
	for k, v := range m {
		if which, ok := strings.CutPrefix(k, "reminded_"); ok {
			if a.Reminded == nil {
				a.Reminded = map[string]time.Time{}
			}
			a.Reminded[which] = fromMS(toInt(v))
		}
	}
	return a
}
