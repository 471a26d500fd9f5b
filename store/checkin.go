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

// Lone-worker session statuses beyond TaskOpen and TaskUnanswered (an
// escalation that ran out while the session still runs).
const (
	// CheckinEnded: stopped, or reached its end (its shift's, or the one
	// it was given).
	CheckinEnded = "ended"
)

// NewCheckin is what /checkin start writes.
type NewCheckin struct {
	Person, Site, Note string
	Every              time.Duration
	// Until is when the session ends: the end of the person's shift
	// unless they gave a length.
	Until time.Time
	Drill bool
}

// Checked is what a check-in transition did.
type Checked struct {
	Task    int64
	Session int64 // L-n
	Before  string
	// Step was the escalation step reached (0: the check-in was on time).
	Step int
	// MissedAt is when the missed check-in was due (zero if none was).
	MissedAt time.Time
	// Incident is the incident a help raised (CheckinHelp), or 0.
	Incident int64
}

// ErrNoSession: the person runs no lone-worker session.
var ErrNoSession = errors.New("no lone-worker session running")

var checkinScript = loadScript("checkin")

// StartCheckin starts a lone-worker session: its first check-in is due an
// interval from now. A *StateError "active" when one already runs.
func (s *Store) StartCheckin(ctx context.Context, in NewCheckin) (*Checked, error) {
	data := auditData(map[string]any{"site": in.Site, "every": in.Every.String(), "until": in.Until.UnixMilli(), "note": in.Note})
	return s.checkin(ctx, "start", in.Person, in.Site, in.Every.Milliseconds(), ms(in.Until), in.Note, flag(in.Drill), data)
}

// CheckIn records a check-in by the person (actor: whoever recorded it,
// channel: how it came, slack, sms, voice...) and moves their next one an
// interval on; it stops the escalation of a missed one. ErrNoSession when
// none runs.
func (s *Store) CheckIn(ctx context.Context, person, actor, channel string) (*Checked, error) {
	return s.checkin(ctx, "ok", person, actor, channel)
}

// CheckinHelp records a lone worker's call for help: the sev1 incident in,
// linked to their session, and the pages msgs (their text may hold
// IDPlaceholder for INC-n), in one script. It is not a check-in: an
// escalation of a missed one goes on. ErrNoSession when none runs.
func (s *Store) CheckinHelp(ctx context.Context, person, channel string, in NewIncident, msgs ...OutMessage) (*Checked, error) {
	inc := mustJSON(map[string]string{"site": in.Site, "category": in.Category, "severity": in.Severity, "text": in.Text,
		"data": auditData(map[string]any{"site": in.Site, "category": in.Category, "severity": in.Severity, "text": in.Text})})
	return s.checkin(ctx, "help", person, person, channel, inc, outJSON(msgs))
}

// StopCheckin ends the person's session. ErrNoSession when none runs.
func (s *Store) StopCheckin(ctx context.Context, person, actor string) (*Checked, error) {
	return s.checkin(ctx, "stop", person, actor)
}

func (s *Store) checkin(ctx context.Context, action, person string, args ...any) (*Checked, error) {
	v, err := s.run(ctx, checkinScript, append([]any{ms(s.now()), action, person}, args...)...)
	if err != nil {
		var rerr redis.Error
		if errors.As(err, &rerr) && strings.TrimPrefix(rerr.Error(), "ERR ") == "noopen" {
			err = ErrNoSession
		}
		return nil, fmt.Errorf("check-in %s: %w", action, err)
	}
	res, _ := v.([]any)
	if len(res) < 5 {
		return nil, unavailable(fmt.Errorf("check-in %s: unexpected reply %v", action, v))
	}
	c := &Checked{Task: toInt(res[0]), Session: toInt(res[1]), Before: toString(res[2]), Step: int(toInt(res[3])),
		MissedAt: fromMS(toInt(res[4]))}
	if len(res) > 5 {
		c.Incident = toInt(res[5])
	}
	return c, nil
}

// LoneWorker is a running lone-worker session as /checkin status and the
// operations board show it.
type LoneWorker struct {
	*Task
	// Missed and Checkins count the session's missed check-ins and
	// check-ins so far, Helps its calls for help.
	Missed, Checkins, Helps int64
}

// ActiveLoneWorkers lists the running sessions, earliest next check-in
// first.
func (s *Store) ActiveLoneWorkers(ctx context.Context) ([]LoneWorker, error) {
	var c *redis.StringSliceCmd
	if err := s.read(ctx, func(p redis.Pipeliner) { c = p.ZRange(ctx, s.Key("checkins:active"), 0, -1) }); err != nil {
		return nil, err
	}
	return s.loneWorkers(ctx, c.Val())
}

// CheckinSessions lists every session started in [from, to), oldest
// first, as they stand (for the check-ins report).
func (s *Store) CheckinSessions(ctx context.Context, from, to time.Time) ([]LoneWorker, error) {
	var c *redis.StringSliceCmd
	if err := s.read(ctx, func(p redis.Pipeliner) { c = p.ZRange(ctx, s.Key("checkins"), 0, -1) }); err != nil {
		return nil, err
	}
	all, err := s.loneWorkers(ctx, c.Val())
	if err != nil {
		return nil, err
	}
	var out []LoneWorker
	for _, w := range all {
		if !w.Created.Before(from) && w.Created.Before(to) {
			out = append(out, w)
		}
	}
	return out, nil
}

func (s *Store) loneWorkers(ctx context.Context, ids []string) ([]LoneWorker, error) {
	nums := make([]int64, 0, len(ids))
	for _, id := range ids {
		nums = append(nums, toInt(id))
	}
	raw, err := s.rawTasks(ctx, nums)
	if err != nil {
		return nil, err
	}
	out := make([]LoneWorker, 0, len(raw))
	for _, m := range raw {
		out = append(out, LoneWorker{Task: taskFromHash(m), Missed: toInt(m["missed"]), Checkins: toInt(m["checkins"]),
			Helps: toInt(m["helps"])})
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Due.Before(out[j-1].Due); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// FormatSession is a session's human id, L-3.
func FormatSession(n int64) string { return "L-" + strconv.FormatInt(n, 10) }
