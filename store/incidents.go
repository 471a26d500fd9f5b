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

// Incident statuses.
const (
	StatusOpen         = "open"
	StatusAcknowledged = "acknowledged"
	StatusResolved     = "resolved"
)

// Severities, sev1 the worst.
var Severities = []string{"sev1", "sev2", "sev3", "sev4"}

// DefaultSeverity is used when a raise names none.
const DefaultSeverity = "sev3"

// Incident is one reported occurrence at a site.
type Incident struct {
	Num        int64
	Site       string
	Category   string
	Severity   string
	Reporter   string // person id
	Text       string
	Status     string
	Created    time.Time
	Updated    time.Time
	AckedBy    string
	AckedAt    time.Time
	ResolvedBy string
	ResolvedAt time.Time
	Summary    string
	Activation string // A-n the incident triggered, if any
	Hold       bool   // legal hold: never pruned
	// Drill marks an incident a drill raised (a HELP in a roll-call
	// drill): its text starts "DRILL —"; it is no real emergency.
	Drill bool
}

// ID is the human id, INC-42.
func (i *Incident) ID() string { return FormatID("INC", i.Num) }

// TimelineEntry is one line of a record's history.
type TimelineEntry struct {
	At    time.Time
	Actor string // person id, or "muster"
	Kind  string // raised, update, acknowledge, resolve, ...
	Text  string
}

// NewIncident is what a raise needs.
type NewIncident struct {
	Site, Category, Severity, Reporter, Text string
	// Obligations are the clocks the incident starts (the config's
	// obligations it matches).
	Obligations []ObligationClock
	// Drill: raised in a drill (set by AnswerRollCall).
	Drill bool
}

var (
	raiseScript  = loadScript("incident_raise")
	changeScript = loadScript("incident_change")
)

// IDPlaceholder in a message's text is replaced by the new record's id
// inside the script that creates the record (INC-n is only known there).
const IDPlaceholder = "\x01ID\x01"

// RaiseIncident records a new incident, its first timeline entry, its
// audit event and the messages announcing it in one script, and returns
// it. The messages' text may contain IDPlaceholder.
func (s *Store) RaiseIncident(ctx context.Context, in NewIncident, msgs ...OutMessage) (*Incident, error) {
	now := s.now()
	data := auditData(map[string]any{
		"site": in.Site, "category": in.Category, "severity": in.Severity, "text": in.Text,
	})
	v, err := s.run(ctx, raiseScript, ms(now), in.Site, in.Category, in.Severity, in.Reporter, in.Text, data, outJSON(msgs),
		clocksJSON(in.Obligations, in.Site, now))
	n, _ := v.(int64)
	if err != nil && !(errors.Is(err, ErrNotReplicated) && n > 0) {
		return nil, fmt.Errorf("raise incident: %w", err)
	}
	// With ErrNotReplicated the incident is saved (on the primary) all the
	// same: it is returned with the error, so the answer can name it.
	inc := &Incident{
		Num: n, Site: in.Site, Category: in.Category, Severity: in.Severity,
		Reporter: in.Reporter, Text: in.Text, Status: StatusOpen,
		Created: time.UnixMilli(ms(now)), Updated: time.UnixMilli(ms(now)),
	}
	if err != nil {
		return inc, fmt.Errorf("raise %s: %w", inc.ID(), err)
	}
	return inc, nil
}

// Incident actions for ChangeIncident.
const (
	ActionUpdate      = "update"
	ActionAcknowledge = "acknowledge"
	ActionResolve     = "resolve"
	ActionHold        = "hold"
	ActionRelease     = "release"
)

// ChangeIncident applies one transition (update, acknowledge, resolve,
// hold, release) atomically: the state check, the change, the timeline
// entry, the audit event and the messages announcing it. ErrNotFound or a
// *StateError say why not.
func (s *Store) ChangeIncident(ctx context.Context, num int64, actor, action, text string, msgs ...OutMessage) (*Incident, error) {
	data := auditData(map[string]any{"text": text})
	v, err := s.run(ctx, changeScript, ms(s.now()), num, actor, action, text, data, outJSON(msgs))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", action, FormatID("INC", num), err)
	}
	// The script answers the incident as it now is: no second read.
	return incidentFromHash(flatHash(v)), nil
}

// Incident reads one incident.
func (s *Store) Incident(ctx context.Context, num int64) (*Incident, error) {
	var c *redis.MapStringStringCmd
	if err := s.read(ctx, func(p redis.Pipeliner) {
		c = p.HGetAll(ctx, s.Key("incident", strconv.FormatInt(num, 10)))
	}); err != nil {
		return nil, err
	}
	if len(c.Val()) == 0 {
		return nil, ErrNotFound
	}
	return incidentFromHash(c.Val()), nil
}

// IncidentWithTimeline reads an incident and its timeline (oldest first)
// in one round trip, as /incident show needs them.
func (s *Store) IncidentWithTimeline(ctx context.Context, num int64) (*Incident, []TimelineEntry, error) {
	inc, tl, _, err := s.IncidentRecord(ctx, num)
	return inc, tl, err
}

// IncidentRecord reads an incident, its timeline (oldest first) and its
// obligation clocks in one round trip, as /incident show needs them.
func (s *Store) IncidentRecord(ctx context.Context, num int64) (*Incident, []TimelineEntry, []*Obligation, error) {
	var (
		c, o *redis.MapStringStringCmd
		tl   *redis.XMessageSliceCmd
	)
	k := s.Key("incident", strconv.FormatInt(num, 10))
	if err := s.read(ctx, func(p redis.Pipeliner) {
		c = p.HGetAll(ctx, k)
		tl = p.XRange(ctx, k+":timeline", "-", "+")
		o = p.HGetAll(ctx, k+":obligations")
	}); err != nil {
		return nil, nil, nil, err
	}
	if len(c.Val()) == 0 {
		return nil, nil, nil, ErrNotFound
	}
	return incidentFromHash(c.Val()), timelineEntries(tl.Val()), obligationsFrom(num, o.Val()), nil
}

// flatHash turns a script's HGETALL reply into a map.
func flatHash(v any) map[string]string {
	flat, _ := v.([]any)
	m := make(map[string]string, len(flat)/2)
	for j := 0; j+1 < len(flat); j += 2 {
		m[toString(flat[j])] = toString(flat[j+1])
	}
	return m
}

// IncidentFilter narrows ListIncidents.
type IncidentFilter struct {
	OpenOnly bool
	Site     string // empty: every site
	Limit    int    // newest first; 0 means 20
}

// ListIncidents returns incidents newest first, in one pipelined round
// trip for the ids and one for the records.
func (s *Store) ListIncidents(ctx context.Context, f IncidentFilter) ([]*Incident, error) {
	if f.Limit <= 0 {
		f.Limit = 20
	}
	set := s.Key("incidents")
	if f.OpenOnly {
		set = s.Key("incidents:open")
	}
	// Read a little more than asked when filtering by site; records of
	// other sites are skipped.
	window := int64(f.Limit)
	if f.Site != "" {
		window = int64(f.Limit) * 10
	}
	var ids *redis.StringSliceCmd
	if err := s.read(ctx, func(p redis.Pipeliner) { ids = p.ZRevRange(ctx, set, 0, window-1) }); err != nil {
		return nil, err
	}
	nums := ids.Val()
	if len(nums) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(nums))
	if err := s.read(ctx, func(p redis.Pipeliner) {
		for i, n := range nums {
			cmds[i] = p.HGetAll(ctx, s.Key("incident", n))
		}
	}); err != nil {
		return nil, err
	}
	out := make([]*Incident, 0, f.Limit)
	for _, c := range cmds {
		m := c.Val()
		if len(m) == 0 || (f.Site != "" && m["site"] != f.Site) {
			continue
		}
		out = append(out, incidentFromHash(m))
		if len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// IncidentTimeline returns an incident's timeline, oldest first.
func (s *Store) IncidentTimeline(ctx context.Context, num int64) ([]TimelineEntry, error) {
	return s.timeline(ctx, s.Key("incident", strconv.FormatInt(num, 10), "timeline"))
}

func (s *Store) timeline(ctx context.Context, key string) ([]TimelineEntry, error) {
	var c *redis.XMessageSliceCmd
	if err := s.read(ctx, func(p redis.Pipeliner) { c = p.XRange(ctx, key, "-", "+") }); err != nil {
		return nil, err
	}
	return timelineEntries(c.Val()), nil
}

func timelineEntries(msgs []redis.XMessage) []TimelineEntry {
	out := make([]TimelineEntry, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, TimelineEntry{
			At:    fromMS(toInt(m.Values["at"])),
			Actor: toString(m.Values["actor"]),
			Kind:  toString(m.Values["kind"]),
			Text:  toString(m.Values["text"]),
		})
	}
	return out
}

func incidentFromHash(m map[string]string) *Incident {
	n, _ := strconv.ParseInt(m["num"], 10, 64)
	return &Incident{
		Num: n, Site: m["site"], Category: m["category"], Severity: m["severity"],
		Reporter: m["reporter"], Text: m["text"], Status: m["status"],
		Created: fromMS(toInt(m["created"])), Updated: fromMS(toInt(m["updated"])),
		AckedBy: m["acked_by"], AckedAt: fromMS(toInt(m["acked_at"])),
		ResolvedBy: m["resolved_by"], ResolvedAt: fromMS(toInt(m["resolved_at"])),
		Summary: m["summary"], Activation: m["activation"], Hold: m["hold"] == "1",
		Drill: m["drill"] == "1",
	}
}

// FormatID writes a human id: FormatID("INC", 42) is "INC-42".
func FormatID(kind string, n int64) string { return kind + "-" + strconv.FormatInt(n, 10) }

// ParseID reads a human id of the given kind, case-insensitively, with or
// without its prefix: "INC-42", "inc-42" and "42" all give 42.
func ParseID(kind, s string) (int64, error) {
	t := strings.TrimSpace(s)
	if len(t) > len(kind)+1 && strings.EqualFold(t[:len(kind)+1], kind+"-") {
		t = t[len(kind)+1:]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a valid %s id (like %s-12)", s, kind, kind)
	}
	return n, nil
}

// auditData encodes an audit event's details. encoding/json sorts map
// keys, so the same details always encode to the same bytes.
func auditData(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func toString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	default:
		return fmt.Sprint(t)
	}
}

func toInt(v any) int64 {
	switch t := v.(type) {
	case int64:
		return t
	case string:
		n, _ := strconv.ParseInt(t, 10, 64)
		return n
	}
	return 0
}

// outJSON encodes messages for a script; never null, so Lua can iterate.
func outJSON(msgs []OutMessage) string {
	if len(msgs) == 0 {
		return "[]"
	}
	return mustJSON(msgs)
}
