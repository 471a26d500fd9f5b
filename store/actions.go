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
	m, err := s.rdb.HGetAll(ctx, s.Key("action", strconv.FormatInt(num, 10))).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	return actionFromHash(m), nil
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
	nums, err := s.rdb.ZRange(ctx, set, 0, -1).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(nums) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(nums))
	for i, n := range nums {
		cmds[i] = pipe.HGetAll(ctx, s.Key("action", n))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, unavailable(err)
	}
	var out []*CorrectiveAction
	for _, c := range cmds {
		m := c.Val()
		if len(m) == 0 || (f.OpenOnly && m["status"] != ActionOpen) {
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
