package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Corrective action statuses.
const (
	ActionOpen = "open"
	ActionDone = "done"
)

// CorrectiveAction is an improvement a coordinator recorded after a drill
// (/drill action D-n <text>) and closes when done (/drill action done n).
type CorrectiveAction struct {
	Num      int64
	Drill    int64
	Text     string
	By       string
	Created  time.Time
	Status   string // ActionOpen or ActionDone
	DoneBy   string
	DoneAt   time.Time
	DoneNote string
}

// ID is the human id, CA-3.
func (a *CorrectiveAction) ID() string { return FormatID("CA", a.Num) }

var actionScript = loadScript("action_change")

// AddAction records a corrective action against drill D-drill, with its
// audit event (action.recorded). ErrNotFound when there is no such drill.
func (s *Store) AddAction(ctx context.Context, drill int64, by, text string) (*CorrectiveAction, error) {
	now := s.now()
	v, err := s.run(ctx, actionScript, ms(now), "add", drill, by, text)
	if err != nil {
		return nil, fmt.Errorf("add action to %s: %w", FormatID("D", drill), err)
	}
	return &CorrectiveAction{Num: toInt(v), Drill: drill, Text: text, By: by, Created: time.UnixMilli(ms(now)), Status: ActionOpen}, nil
}

// CloseAction marks a corrective action done (action.done). ErrNotFound,
// or a *StateError when it is already done.
func (s *Store) CloseAction(ctx context.Context, num int64, by, note string) (*CorrectiveAction, error) {
	if _, err := s.run(ctx, actionScript, ms(s.now()), "done", num, by, note); err != nil {
		return nil, fmt.Errorf("close %s: %w", FormatID("CA", num), err)
	}
	return s.Action(ctx, num)
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

// Actions lists corrective actions, oldest first.
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
	return &CorrectiveAction{
		Num: toInt(m["num"]), Drill: toInt(m["drill"]), Text: m["text"], By: m["by"], Created: fromMS(toInt(m["created"])),
		Status: m["status"], DoneBy: m["done_by"], DoneAt: fromMS(toInt(m["done_at"])), DoneNote: m["done_note"],
	}
}
