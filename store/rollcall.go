package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Task kinds: a plan task has none; each person's question in a roll call
// is a task of KindRollCall, each lone-worker session one of KindCheckin.
// The escalation engine runs all of them with the same timers and leases.
const (
	KindRollCall = "rollcall"
	KindCheckin  = "checkin"
)

// Roll-call answers, which are also the status of a person's roll-call
// task once they answered.
const (
	AnswerSafe = "safe"
	AnswerHelp = "help"
)

// Roll-call statuses.
const (
	RollCallOpen    = "open"
	RollCallStopped = "stopped"
)

// RollCall is one roll call, R-n: everyone on duty at its sites asked "Are
// you safe?".
type RollCall struct {
	Num   int64
	Sites []string
	By    string
	Note  string
	Drill bool
	// Policy is the escalation policy its questions run by.
	Policy   string
	Status   string
	Created  time.Time
	ClosedAt time.Time
	ClosedBy string
	// Total, Safe and Help are the tally: people asked, and how many of
	// them answered safe and help now.
	Total, Safe, Help int64
}

// ID is the human id, R-4.
func (r *RollCall) ID() string { return FormatID("R", r.Num) }

// Pending is how many have not answered yet.
func (r *RollCall) Pending() int64 { return r.Total - r.Safe - r.Help }

// RollCallPerson is one person's place in a roll call: their question
// (a task of KindRollCall) as it stands.
type RollCallPerson struct {
	Person string
	Site   string
	Task   int64
	// Status is open (not answered yet), unanswered (their escalation
	// ran out, or the roll call stopped, without an answer), safe or help.
	Status string
	Asked  time.Time
	// Accounted is their first answer, Answered their latest.
	Accounted time.Time
	Answered  time.Time
	// Channel is how their latest answer came (RollCallAnswer.Channel).
	Channel  string
	Note     string
	Incident int64
	Step     int
}

// HasAnswered reports whether the person has answered.
func (p *RollCallPerson) HasAnswered() bool { return p.Status == AnswerSafe || p.Status == AnswerHelp }

// NewRollCall is what /rollcall start writes.
type NewRollCall struct {
	Sites  []string
	By     string
	Note   string
	Drill  bool
	Policy string
	// People are everyone on duty at the sites now, each once.
	People []RollCallMember
	// Messages go out with it (the tally cards); their text may hold
	// IDPlaceholder for R-n.
	Messages []OutMessage
	// Ask, when set, is everyone's first step, queued with the roll call
	// itself; nil leaves the first step to the engine, due now.
	Ask *RollCallAsk
}

// RollCallAsk is the first step of a roll call's questions when it only
// asks the person: the start script queues it for everyone at once (as
// the engine would: the same idempotency keys, kind and ref), so a roll
// call of thousands is asked within the command, not at the engine's step
// rate. The engine runs every later step.
type RollCallAsk struct {
	// Channels the person is asked on (chat, sms, voice), in order.
	Channels []string
	// Texts are each site's question per channel; they may hold
	// IDPlaceholder for R-n.
	Texts map[string]map[string]string
	// Wait is how long after the question its next step falls due.
	Wait time.Duration
}

// RollCallMember is a person asked in a roll call and the site they are on
// duty at.
type RollCallMember struct {
	Person string `json:"person"`
	Site   string `json:"site"`
}

var (
	rollcallStartScript  = loadScript("rollcall_start")
	rollcallAnswerScript = loadScript("rollcall_answer")
	rollcallStopScript   = loadScript("rollcall_stop")
)

// StartRollCall writes a roll call, one question task per person with its
// first deadline due now, and the tally cards, in one script. It returns
// the roll call's number and each person's task number.
func (s *Store) StartRollCall(ctx context.Context, in NewRollCall) (int64, map[string]int64, error) {
	rc := map[string]any{"num": 0, "sites": strings.Join(in.Sites, ","), "by": in.By, "note": in.Note,
		"drill": flag(in.Drill), "policy": in.Policy}
	data := auditData(map[string]any{"sites": in.Sites, "note": in.Note, "drill": in.Drill, "people": len(in.People)})
	ask := ""
	if a := in.Ask; a != nil && len(a.Channels) > 0 {
		ask = mustJSON(map[string]any{"wait": a.Wait.Milliseconds(), "channels": a.Channels, "texts": a.Texts})
	}
	return s.rollCallAdd(ctx, rc, in.People, in.Messages, data, ask)
}

// JoinRollCall adds people who came on duty to an open roll call (those
// already in it are skipped). It returns the task number of each person
// added; a *StateError when the roll call is no longer open.
func (s *Store) JoinRollCall(ctx context.Context, num int64, people []RollCallMember) (map[string]int64, error) {
	data := auditData(map[string]any{"people": people})
	_, added, err := s.rollCallAdd(ctx, map[string]any{"num": num}, people, nil, data, "")
	return added, err
}

func (s *Store) rollCallAdd(ctx context.Context, rc map[string]any, people []RollCallMember, msgs []OutMessage, data, ask string) (int64, map[string]int64, error) {
	if people == nil {
		people = []RollCallMember{}
	}
	v, err := s.run(ctx, rollcallStartScript, ms(s.now()), mustJSON(rc), mustJSON(people), outJSON(msgs), data, ask)
	if err != nil {
		return 0, nil, fmt.Errorf("roll call: %w", err)
	}
	res, _ := v.([]any)
	if len(res) < 1 {
		return 0, nil, unavailable(fmt.Errorf("roll call: unexpected reply %v", v))
	}
	added := make(map[string]int64, (len(res)-1)/2)
	for i := 1; i+1 < len(res); i += 2 {
		added[toString(res[i])] = toInt(res[i+1])
	}
	return toInt(res[0]), added, nil
}

// RollCallAnswer is one person's answer (AnswerRollCall).
type RollCallAnswer struct {
	// Num is the roll call; 0 means the person's newest open one.
	Num    int64
	Person string
	Answer string // AnswerSafe or AnswerHelp
	Note   string
	// Channel is how the answer came (slack, discord, console, sms,
	// voice, slack button...): the record and the report name it.
	Channel string
	// Incident, for a help, is the incident raised with the answer,
	// linked to the roll call; Messages page for it (their text may hold
	// IDPlaceholder for INC-n).
	Incident *NewIncident
	Messages []OutMessage
}

// RollCallAnswered is what AnswerRollCall did.
type RollCallAnswered struct {
	Num, Task int64
	Before    string // the person's status before
	Site      string
	Incident  int64 // INC-n raised, or 0
}

// Roll-call refusals (besides ErrNotFound and *StateError for the same
// answer given twice).
var (
	// ErrNoRollCall: no roll call number given and none is open for the
	// person.
	ErrNoRollCall = errors.New("no open roll call for you")
	// ErrNotInRollCall: the person is not among those asked.
	ErrNotInRollCall = errors.New("not in that roll call")
	// ErrRollCallClosed: the roll call was stopped.
	ErrRollCallClosed = errors.New("roll call is over")
)

// AnswerRollCall records a person's answer, and for a help the incident
// and its pages, in one script (lua/rollcall_answer.lua).
func (s *Store) AnswerRollCall(ctx context.Context, a RollCallAnswer) (*RollCallAnswered, error) {
	inc := ""
	if a.Incident != nil {
		in := a.Incident
		inc = mustJSON(map[string]string{"site": in.Site, "category": in.Category, "severity": in.Severity, "text": in.Text, "drill": flag(in.Drill),
			"data": auditData(map[string]any{"site": in.Site, "category": in.Category, "severity": in.Severity, "text": in.Text, "drill": in.Drill})})
	}
	v, err := s.run(ctx, rollcallAnswerScript, ms(s.now()), a.Num, a.Person, a.Answer, a.Note, inc, outJSON(a.Messages), a.Channel)
	if err != nil {
		var rerr redis.Error
		if errors.As(err, &rerr) {
			switch msg := strings.TrimPrefix(rerr.Error(), "ERR "); {
			case msg == "noopen":
				err = ErrNoRollCall
			case msg == "notin":
				err = ErrNotInRollCall
			case strings.HasPrefix(msg, "closed:"):
				err = ErrRollCallClosed
			}
		}
		return nil, fmt.Errorf("roll call answer: %w", err)
	}
	res, _ := v.([]any)
	if len(res) < 5 {
		return nil, unavailable(fmt.Errorf("roll call answer: unexpected reply %v", v))
	}
	return &RollCallAnswered{Num: toInt(res[0]), Task: toInt(res[1]), Before: toString(res[2]), Site: toString(res[3]),
		Incident: toInt(res[4])}, nil
}

// StopRollCall stops an open roll call: nobody is asked or reminded any
// more, and whoever has not answered is recorded unanswered. msgs go out
// with it. It returns how many had not answered.
func (s *Store) StopRollCall(ctx context.Context, num int64, actor, note string, msgs ...OutMessage) (int64, error) {
	v, err := s.run(ctx, rollcallStopScript, ms(s.now()), num, actor, note, outJSON(msgs))
	if err != nil {
		return 0, fmt.Errorf("stop %s: %w", FormatID("R", num), err)
	}
	return toInt(v), nil
}

// RollCall reads one roll call (num 0: the newest) without its people.
func (s *Store) RollCall(ctx context.Context, num int64) (*RollCall, error) {
	if num == 0 {
		var c *redis.StringSliceCmd
		if err := s.read(ctx, func(p redis.Pipeliner) { c = p.ZRevRange(ctx, s.Key("rollcalls"), 0, 0) }); err != nil {
			return nil, err
		}
		if len(c.Val()) == 0 {
			return nil, ErrNotFound
		}
		num = toInt(c.Val()[0])
	}
	var c *redis.MapStringStringCmd
	if err := s.read(ctx, func(p redis.Pipeliner) {
		c = p.HGetAll(ctx, s.Key("rollcall", strconv.FormatInt(num, 10)))
	}); err != nil {
		return nil, err
	}
	if len(c.Val()) == 0 {
		return nil, ErrNotFound
	}
	return rollCallFromHash(c.Val()), nil
}

// RollCallPeople reads a roll call's people as they stand, ordered by
// site, then person id.
func (s *Store) RollCallPeople(ctx context.Context, num int64) ([]RollCallPerson, error) {
	var c *redis.MapStringStringCmd
	if err := s.read(ctx, func(p redis.Pipeliner) {
		c = p.HGetAll(ctx, s.Key("rollcall", strconv.FormatInt(num, 10), "people"))
	}); err != nil {
		return nil, err
	}
	nums := make([]int64, 0, len(c.Val()))
	for _, tn := range c.Val() {
		nums = append(nums, toInt(tn))
	}
	return s.rollCallPersons(ctx, nums)
}

// rollCallPersons reads the question tasks nums as people of a roll
// call, ordered by site, then person id.
func (s *Store) rollCallPersons(ctx context.Context, nums []int64) ([]RollCallPerson, error) {
	tasks, err := s.rawTasks(ctx, nums)
	if err != nil {
		return nil, err
	}
	out := make([]RollCallPerson, 0, len(tasks))
	for _, m := range tasks {
		out = append(out, RollCallPerson{Person: m["assignee"], Site: m["site"], Task: toInt(m["num"]), Status: m["status"],
			Asked: fromMS(toInt(m["created"])), Accounted: fromMS(toInt(m["accounted_at"])), Answered: fromMS(toInt(m["acked_at"])),
			Channel: m["ack_channel"], Note: m["ack_note"], Incident: toInt(m["incident"]), Step: int(toInt(m["step"]))})
	}
	slices.SortFunc(out, func(a, b RollCallPerson) int {
		if c := strings.Compare(a.Site, b.Site); c != 0 {
			return c
		}
		return strings.Compare(a.Person, b.Person)
	})
	return out, nil
}

// RollCallSample reads the people a tally names: the first limit of each
// of its lines (need help, not yet answered, safe), in site, person
// order; the lines' counts are the roll call's own (RollCall.Help,
// Pending, Safe). A card of a roll call of 10,000, drawn at every batch
// of answers, costs a few dozen reads, not 10,000: the start and answer
// scripts keep each line as a sorted set (rollcall:<n>:pending, :safe,
// :help). A roll call recorded without them (from a degraded journal) is
// read whole and cut.
func (s *Store) RollCallSample(ctx context.Context, num int64, limit int) ([]RollCallPerson, error) {
	rk := s.Key("rollcall", strconv.FormatInt(num, 10))
	var lines *redis.StringCmd
	var members [3]*redis.StringSliceCmd
	if err := s.read(ctx, func(p redis.Pipeliner) {
		lines = p.HGet(ctx, rk, "lines")
		for i, line := range []string{AnswerHelp, "pending", AnswerSafe} {
			members[i] = p.ZRange(ctx, rk+":"+line, 0, int64(limit)-1)
		}
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if lines.Val() != "1" {
		all, err := s.RollCallPeople(ctx, num)
		if err != nil {
			return nil, err
		}
		return sampleLines(all, limit), nil
	}
	var people []string
	for _, m := range members {
		for _, member := range m.Val() {
			if _, person, ok := strings.Cut(member, "\t"); ok {
				people = append(people, person)
			}
		}
	}
	if len(people) == 0 {
		return nil, nil
	}
	var tns *redis.SliceCmd
	if err := s.read(ctx, func(p redis.Pipeliner) { tns = p.HMGet(ctx, rk+":people", people...) }); err != nil {
		return nil, err
	}
	nums := make([]int64, 0, len(people))
	for _, v := range tns.Val() {
		if v != nil {
			nums = append(nums, toInt(v))
		}
	}
	return s.rollCallPersons(ctx, nums)
}

// sampleLines keeps the first limit people of each tally line.
func sampleLines(all []RollCallPerson, limit int) []RollCallPerson {
	seen := map[string]int{}
	out := make([]RollCallPerson, 0, min(len(all), 3*limit))
	for _, p := range all {
		line := p.Status
		if !p.HasAnswered() {
			line = "pending"
		}
		if seen[line] < limit {
			seen[line]++
			out = append(out, p)
		}
	}
	return out
}

// rawTasks reads task hashes in one pipelined round trip (chunks of 1000
// per pipeline), skipping missing ones.
func (s *Store) rawTasks(ctx context.Context, nums []int64) ([]map[string]string, error) {
	out := make([]map[string]string, 0, len(nums))
	for lo := 0; lo < len(nums); lo += 1000 {
		part := nums[lo:min(lo+1000, len(nums))]
		cmds := make([]*redis.MapStringStringCmd, len(part))
		if err := s.read(ctx, func(p redis.Pipeliner) {
			for i, n := range part {
				cmds[i] = p.HGetAll(ctx, s.Key("task", strconv.FormatInt(n, 10)))
			}
		}); err != nil {
			return nil, err
		}
		for _, c := range cmds {
			if m := c.Val(); len(m) > 0 {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// OpenRollCalls lists the roll calls still open, newest first: what
// /rollcall status, hand-overs and the operations board show.
func (s *Store) OpenRollCalls(ctx context.Context) ([]*RollCall, error) {
	var c *redis.StringSliceCmd
	if err := s.read(ctx, func(p redis.Pipeliner) { c = p.SMembers(ctx, s.Key("rollcalls:open")) }); err != nil {
		return nil, err
	}
	out := make([]*RollCall, 0, len(c.Val()))
	for _, n := range c.Val() {
		r, err := s.RollCall(ctx, toInt(n))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sortDesc(out, func(r *RollCall) int64 { return r.Num })
	return out, nil
}

// RollCalls lists the roll calls started in [from, to), oldest first.
func (s *Store) RollCalls(ctx context.Context, from, to time.Time) ([]*RollCall, error) {
	var c *redis.StringSliceCmd
	if err := s.read(ctx, func(p redis.Pipeliner) { c = p.ZRange(ctx, s.Key("rollcalls"), 0, -1) }); err != nil {
		return nil, err
	}
	var out []*RollCall
	for _, n := range c.Val() {
		r, err := s.RollCall(ctx, toInt(n))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !r.Created.Before(from) && r.Created.Before(to) {
			out = append(out, r)
		}
	}
	return out, nil
}

func rollCallFromHash(m map[string]string) *RollCall {
	r := &RollCall{Num: toInt(m["num"]), By: m["by"], Note: m["note"], Drill: m["drill"] == "1", Policy: m["policy"],
		Status: m["status"], Created: fromMS(toInt(m["created"])), ClosedAt: fromMS(toInt(m["closed_at"])),
		ClosedBy: m["closed_by"], Total: toInt(m["total"]), Safe: toInt(m["safe"]), Help: toInt(m["help"])}
	for _, st := range strings.Split(m["sites"], ",") {
		if st != "" {
			r.Sites = append(r.Sites, st)
		}
	}
	return r
}

// RollCallEntry finds a person's question in roll call num (0: their
// newest open one) and returns the roll call's number and the task.
// ErrNoRollCall, ErrNotInRollCall or ErrNotFound when there is none.
func (s *Store) RollCallEntry(ctx context.Context, num int64, person string) (int64, *Task, error) {
	var tn int64
	if num == 0 {
		var c *redis.ZSliceCmd
		if err := s.read(ctx, func(p redis.Pipeliner) {
			c = p.ZRevRangeWithScores(ctx, s.Key("rollcall:open", person), 0, 0)
		}); err != nil {
			return 0, nil, err
		}
		if len(c.Val()) > 0 {
			num, tn = int64(c.Val()[0].Score), toInt(c.Val()[0].Member)
		} else {
			// Nothing unanswered: the newest open roll call that asked
			// them (as lua/rollcall_answer.lua does).
			open, err := s.OpenRollCalls(ctx)
			if err != nil {
				return 0, nil, err
			}
			for _, rc := range open {
				if _, t, err := s.RollCallEntry(ctx, rc.Num, person); err == nil {
					return rc.Num, t, nil
				}
			}
			return 0, nil, ErrNoRollCall
		}
	} else {
		var c *redis.StringCmd
		var ex *redis.IntCmd
		if err := s.read(ctx, func(p redis.Pipeliner) {
			c = p.HGet(ctx, s.Key("rollcall", strconv.FormatInt(num, 10), "people"), person)
			ex = p.Exists(ctx, s.Key("rollcall", strconv.FormatInt(num, 10)))
		}); err != nil && !errors.Is(err, redis.Nil) {
			return 0, nil, err
		}
		if ex.Val() == 0 {
			return 0, nil, ErrNotFound
		}
		if c.Val() == "" {
			return 0, nil, ErrNotInRollCall
		}
		tn = toInt(c.Val())
	}
	t, err := s.Task(ctx, tn)
	return num, t, err
}
