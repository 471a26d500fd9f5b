package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Obligation statuses.
const (
	ObligationPending = "pending"
	ObligationMet     = "met"
	ObligationMissed  = "missed"
)

// Ways an obligation was met (Obligation.Via).
const (
	ViaNotified = "notified" // /incident notified: someone told the contact
	ViaSMS      = "sms"      // /incident send: muster texted the contact
)

// Obligation is the clock of one obligation (configs.Obligation) for one
// incident: when it started, its reminders and deadline, and whether the
// contact was told.
type Obligation struct {
	// Incident is the incident's number.
	Incident int64 `json:"incident"`
	// ID is the obligation's id in the config.
	ID      string `json:"id"`
	Contact string `json:"contact"`
	// Kind is the contact's kind (police, regulator, client, ...).
	Kind string `json:"kind"`
	// Owner is the role whose on-duty holder is reminded.
	Owner string `json:"owner"`
	Site  string `json:"site"`
	// Started, Deadline and Due are ms since the epoch; Due lists the
	// reminders then the deadline, and Step is the next of them to run.
	Started  int64   `json:"started"`
	Deadline int64   `json:"deadline"`
	Due      []int64 `json:"due"`
	Step     int     `json:"step"`
	Status   string  `json:"status"`
	MetAt    int64   `json:"met_at,omitempty"`
	MetBy    string  `json:"met_by,omitempty"`
	// Reference is what the contact gave (a police log number), or the
	// text muster sent.
	Reference string `json:"reference,omitempty"`
	Via       string `json:"via,omitempty"`
	MissedAt  int64  `json:"missed_at,omitempty"`
}

// StartedAt is when the clock started.
func (o *Obligation) StartedAt() time.Time { return fromMS(o.Started) }

// DeadlineAt is when the contact must have been told by.
func (o *Obligation) DeadlineAt() time.Time { return fromMS(o.Deadline) }

// MetTime is when the contact was told (zero if not yet).
func (o *Obligation) MetTime() time.Time { return fromMS(o.MetAt) }

// Late reports whether the contact was told after the deadline.
func (o *Obligation) Late() bool { return o.Status == ObligationMet && o.MetAt > o.Deadline }

// Missed reports whether the deadline passed with the contact not told by
// now (it may have been told late since: see Late).
func (o *Obligation) Missed(now time.Time) bool {
	switch o.Status {
	case ObligationMissed:
		return true
	case ObligationPending:
		return ms(now) > o.Deadline
	}
	return false
}

// ObligationClock is one obligation to start for an incident: what the
// commands decide from the config.
type ObligationClock struct {
	ID, Contact, Kind, Owner string
	Within                   time.Duration
}

// Reminders are the times before an obligation's deadline its owner is
// reminded: at half time, and 15 minutes before the deadline when that is
// after half time.
const ReminderBefore = 15 * time.Minute

// schedule lays out an obligation's reminders and deadline from start.
func (c ObligationClock) schedule(site string, start time.Time) map[string]any {
	deadline := start.Add(c.Within)
	half := start.Add(c.Within / 2)
	due := []int64{ms(half)}
	if late := deadline.Add(-ReminderBefore); late.After(half) {
		due = append(due, ms(late))
	}
	due = append(due, ms(deadline))
	return map[string]any{"id": c.ID, "contact": c.Contact, "kind": c.Kind, "owner": c.Owner, "site": site,
		"deadline": ms(deadline), "due": due}
}

func clocksJSON(clocks []ObligationClock, site string, start time.Time) string {
	out := make([]map[string]any, len(clocks))
	for i, c := range clocks {
		out[i] = c.schedule(site, start)
	}
	if len(out) == 0 {
		return "[]"
	}
	return mustJSON(out)
}

var (
	severityScript   = loadScript("incident_severity")
	oClaimScript     = loadScript("obligations_claim")
	oStepsScript     = loadScript("obligation_steps")
	obligationScript = loadScript("obligation_met")
)

// ChangeSeverity sets an incident's severity and starts the clocks of
// the obligations it now matches (those already running are left as
// they are) in one script. It returns the incident as it now is and how
// many clocks started. The same severity, or a resolved incident, is a
// *StateError.
func (s *Store) ChangeSeverity(ctx context.Context, num int64, actor, severity string, clocks []ObligationClock, msgs ...OutMessage) (*Incident, int, error) {
	now := s.now()
	inc, err := s.Incident(ctx, num)
	if err != nil {
		return nil, 0, fmt.Errorf("severity of %s: %w", FormatID("INC", num), err)
	}
	v, err := s.run(ctx, severityScript, ms(now), num, actor, severity, clocksJSON(clocks, inc.Site, now), outJSON(msgs))
	if err != nil {
		return nil, 0, fmt.Errorf("severity of %s: %w", FormatID("INC", num), err)
	}
	res, _ := v.([]any)
	if len(res) < 2 {
		return nil, 0, unavailable(fmt.Errorf("severity of %s: unexpected reply %v", FormatID("INC", num), v))
	}
	return incidentFromHash(flatHash(res[0])), int(toInt(res[1])), nil
}

// Obligations reads an incident's obligation clocks, in the order they
// started (then by id).
func (s *Store) Obligations(ctx context.Context, num int64) ([]*Obligation, error) {
	var c *redis.MapStringStringCmd
	if err := s.read(ctx, func(p redis.Pipeliner) {
		c = p.HGetAll(ctx, s.Key("incident", strconv.FormatInt(num, 10), "obligations"))
	}); err != nil {
		return nil, err
	}
	return obligationsFrom(num, c.Val()), nil
}

// ObligationsOf reads the obligation clocks of several incidents in one
// round trip, by incident number.
func (s *Store) ObligationsOf(ctx context.Context, nums []int64) (map[int64][]*Obligation, error) {
	cmds := make([]*redis.MapStringStringCmd, len(nums))
	if len(nums) == 0 {
		return map[int64][]*Obligation{}, nil
	}
	if err := s.read(ctx, func(p redis.Pipeliner) {
		for i, n := range nums {
			cmds[i] = p.HGetAll(ctx, s.Key("incident", strconv.FormatInt(n, 10), "obligations"))
		}
	}); err != nil {
		return nil, err
	}
	out := make(map[int64][]*Obligation, len(nums))
	for i, n := range nums {
		if list := obligationsFrom(n, cmds[i].Val()); len(list) > 0 {
			out[n] = list
		}
	}
	return out, nil
}

func obligationsFrom(num int64, m map[string]string) []*Obligation {
	out := make([]*Obligation, 0, len(m))
	for _, v := range m {
		if o := parseObligation(num, v); o != nil {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Started != out[j].Started {
			return out[i].Started < out[j].Started
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func parseObligation(num int64, v string) *Obligation {
	var o Obligation
	if json.Unmarshal([]byte(v), &o) != nil {
		return nil
	}
	o.Incident = num
	return &o
}

// ErrNoObligation: the incident has no clock for that obligation.
var ErrNoObligation = errors.New("no such obligation on the incident")

// ObligationsMet records that the contact of the incident's obligations
// ids was told (via ViaNotified with the contact's reference, or ViaSMS
// with the text muster sent), stopping their clocks, and queues msgs, in
// one script. sent, when not nil, is recorded as the send's audit event
// (an SMS to the contact) even when no obligation was pending. Refusals:
// ErrNotFound, ErrNoObligation, a *StateError (already met).
func (s *Store) ObligationsMet(ctx context.Context, num int64, actor string, ids []string, reference, via string, sent map[string]any, msgs ...OutMessage) ([]string, error) {
	if ids == nil {
		ids = []string{}
	}
	data := ""
	if sent != nil {
		data = auditData(sent)
	}
	v, err := s.run(ctx, obligationScript, ms(s.now()), num, actor, mustJSON(ids), reference, via, data, outJSON(msgs))
	if err != nil {
		var rerr redis.Error
		if errors.As(err, &rerr) && strings.TrimPrefix(rerr.Error(), "ERR ") == "noobligation" {
			err = ErrNoObligation
		}
		return nil, fmt.Errorf("obligations of %s: %w", FormatID("INC", num), err)
	}
	res, _ := v.([]any)
	out := make([]string, 0, len(res))
	for _, r := range res {
		out = append(out, toString(r))
	}
	return out, nil
}

// ObligationClaim is a due obligation deadline this process now holds.
type ObligationClaim struct {
	// Member is the timer's member, "<incident num>:<obligation id>".
	Member string
	// Due is when the step was scheduled; Until the end of the lease.
	Due, Until time.Time
	// Record is the obligation as claimed.
	Record *Obligation
}

// ClaimObligations claims up to limit obligation deadlines due at or
// before now, holding each until now+lease.
func (s *Store) ClaimObligations(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ObligationClaim, error) {
	until := ms(now.Add(lease))
	v, err := s.run(ctx, oClaimScript, ms(now), until, limit)
	if err != nil {
		return nil, err
	}
	res, _ := v.([]any)
	out := make([]ObligationClaim, 0, len(res)/3)
	for i := 0; i+2 < len(res); i += 3 {
		member := toString(res[i])
		score, _ := strconv.ParseFloat(toString(res[i+1]), 64)
		num, _, _ := strings.Cut(member, ":")
		n, _ := strconv.ParseInt(num, 10, 64)
		out = append(out, ObligationClaim{Member: member, Due: time.UnixMilli(int64(score)), Until: time.UnixMilli(until),
			Record: parseObligation(n, toString(res[i+2]))})
	}
	return out, nil
}

// Obligation step actions.
const (
	ObligationRemind = "remind" // tell the owner; the next step is due at Next
	ObligationMiss   = "miss"   // the deadline passed: missed
	ObligationDrop   = "drop"   // nothing to do: clear the deadline
)

// ObligationRun is one obligation clock step to record.
type ObligationRun struct {
	Member string
	Until  time.Time
	Step   int
	Action string
	// Next is when the next step is due (remind only).
	Next     time.Time
	Audit    map[string]any
	Messages []OutMessage
}

// RunObligationSteps records obligation clock steps in one script
// (lua/obligation_steps.lua), each only if its obligation is still
// pending, its claim still holds and it is at Step. It returns each
// step's result (StepOK, StepClosed, StepStale, StepGone).
func (s *Store) RunObligationSteps(ctx context.Context, runs []ObligationRun) ([]string, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 2+len(runs)*10)
	args = append(args, ms(s.now()), len(runs))
	for _, r := range runs {
		next := ""
		if r.Action == ObligationRemind {
			next = strconv.FormatInt(ms(r.Next), 10)
		}
		args = append(args, r.Member, ms(r.Until), r.Step, r.Action, next, auditData(r.Audit), len(r.Messages))
		for _, m := range r.Messages {
			ch := m.Channel
			if ch == "" {
				ch = "chat"
			}
			args = append(args, m.Key, ch, m.To, m.Site, m.Kind, m.Ref, m.Text, m.Task, m.Drill)
		}
	}
	v, err := s.run(ctx, oStepsScript, args...)
	if err != nil {
		return nil, fmt.Errorf("obligation steps: %w", err)
	}
	res, _ := v.([]any)
	out := make([]string, len(runs))
	for i := range out {
		if i < len(res) {
			out[i] = toString(res[i])
		}
	}
	return out, nil
}

// ObligationsRecords lists every incident's obligation clocks (for the
// review pack), by incident number.
func (s *Store) ObligationsRecords(ctx context.Context, incidents []*Incident) (map[int64][]*Obligation, error) {
	nums := make([]int64, len(incidents))
	for i, inc := range incidents {
		nums[i] = inc.Num
	}
	out := map[int64][]*Obligation{}
	for len(nums) > 0 {
		n := min(len(nums), 500)
		m, err := s.ObligationsOf(ctx, nums[:n])
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
		nums = nums[n:]
	}
	return out, nil
}
