package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DegradedActivation is a plan activation that degraded mode made while
// Redis was unreachable: commands sent the broadcast and the SMS call-out
// directly and wrote this to the local journal (store/journal), one JSON
// line each. ReplayDegraded records it once Redis answers again. The JSON
// names are the journal's file format: keep them stable.
type DegradedActivation struct {
	// ID is unique across replicas ("dg-..."); the replay's marker is
	// keyed by it, so an entry is recorded once however often it is
	// replayed.
	ID string `json:"id"`
	// At is when it was triggered.
	At          time.Time `json:"at"`
	Plan        string    `json:"plan"`
	PlanName    string    `json:"plan_name"`
	PlanVersion int       `json:"plan_version"`
	Site        string    `json:"site"`
	By          string    `json:"by"`
	Note        string    `json:"note,omitempty"`
	// Incident is the INC-n asked for (0 for none); linked on replay when
	// it exists.
	Incident int64          `json:"incident,omitempty"`
	Target   time.Duration  `json:"target"`
	Tasks    []DegradedTask `json:"tasks"`
	// Sent lists what went out directly.
	Sent []DegradedSend `json:"sent"`
	// Host is the process that wrote the entry, for people reading it.
	Host string `json:"host,omitempty"`
	// RollCall, when set, makes the entry a roll call started in degraded
	// mode instead of an activation (Plan and Tasks are then empty).
	RollCall *DegradedRollCall `json:"rollcall,omitempty"`
	// Answer, when set, makes the entry a roll-call answer received by
	// SMS in degraded mode.
	Answer *DegradedAnswer `json:"answer,omitempty"`
}

// DegradedTask is one task of a degraded activation, assigned from the
// config's roster rotation (covers live in Redis and were not known).
type DegradedTask struct {
	Title    string `json:"title"`
	Role     string `json:"role"`
	Policy   string `json:"policy"`
	Assignee string `json:"assignee"`
	// Note explains the assignment, as NewTask.Note.
	Note     string `json:"note,omitempty"`
	LiveOnly bool   `json:"live_only,omitempty"`
	// AckedBy and AckedAt, when set, record the task as acknowledged;
	// otherwise it is replayed open and its escalation starts at once.
	AckedBy string    `json:"acked_by,omitempty"`
	AckedAt time.Time `json:"acked_at,omitzero"`
	AckNote string    `json:"ack_note,omitempty"`
}

// DegradedSend is one message degraded mode sent directly.
type DegradedSend struct {
	Channel string `json:"channel"`
	Site    string `json:"site,omitempty"`
	To      string `json:"to,omitempty"`
	Kind    string `json:"kind"`
	// Task is the index of the task in Tasks (-1 for none).
	Task int `json:"task"`
}

// ReplayResult is what ReplayDegraded did.
type ReplayResult struct {
	// Fresh is false when the entry had been recorded before (by an
	// earlier replay, or another replica's): nothing was written.
	Fresh bool
	// Activation is the A-n recorded for the entry.
	Activation string
	// Tasks are the task numbers written (only when Fresh).
	Tasks []int64
}

var degradedScript = loadScript("degraded_replay")

// ReplayDegraded records a degraded activation: the activation, its tasks
// (acknowledged when the entry says so, otherwise open with their first
// escalation step due now), timeline entries that say they were created in
// degraded mode, and the audit events, in one script with a SET NX marker
// for the entry's id, so replaying it again, from any replica, writes
// nothing and returns the activation written the first time.
//
// An entry holding a roll call or a roll-call answer is recorded likewise,
// once (see replayDegradedRollCall).
func (s *Store) ReplayDegraded(ctx context.Context, d DegradedActivation) (ReplayResult, error) {
	if d.ID != "" && (d.RollCall != nil || d.Answer != nil) {
		return s.replayDegradedRollCall(ctx, d)
	}
	if d.ID == "" || d.Plan == "" || d.Site == "" {
		return ReplayResult{}, fmt.Errorf("replay degraded activation %q: id, plan and site are required", d.ID)
	}
	type taskJSON struct {
		Title    string `json:"title"`
		Role     string `json:"role"`
		Policy   string `json:"policy"`
		Assignee string `json:"assignee"`
		Note     string `json:"note"`
		LiveOnly string `json:"live_only"`
		AckedBy  string `json:"acked_by"`
		AckedAt  string `json:"acked_at"`
		AckNote  string `json:"ack_note"`
		Sent     string `json:"sent"`
	}
	tasks := make([]taskJSON, len(d.Tasks))
	for i, t := range d.Tasks {
		tasks[i] = taskJSON{Title: t.Title, Role: t.Role, Policy: t.Policy, Assignee: t.Assignee, Note: t.Note,
			LiveOnly: flag(t.LiveOnly), Sent: sentText(d.Sent, i)}
		if t.AckedBy != "" {
			at := t.AckedAt
			if at.IsZero() {
				at = d.At
			}
			tasks[i].AckedBy, tasks[i].AckedAt, tasks[i].AckNote = t.AckedBy, strconv.FormatInt(ms(at), 10), t.AckNote
		}
	}
	incident := ""
	if d.Incident > 0 {
		incident = strconv.FormatInt(d.Incident, 10)
	}
	act := map[string]string{
		"at": strconv.FormatInt(ms(d.At), 10), "plan": d.Plan, "name": d.PlanName, "version": strconv.Itoa(d.PlanVersion),
		"site": d.Site, "by": d.By, "note": d.Note, "incident": incident,
		"target": strconv.FormatInt(d.Target.Milliseconds(), 10),
	}
	data := auditData(map[string]any{"plan": d.Plan, "name": d.PlanName, "version": d.PlanVersion, "site": d.Site, "note": d.Note,
		"drill": false, "tasks": len(d.Tasks), "degraded": d.ID, "triggered_at": ms(d.At), "incident": d.Incident, "host": d.Host,
		"sent": sentText(d.Sent, -1)})
	v, err := s.run(ctx, degradedScript, ms(s.now()), d.ID, mustJSON(act), mustJSON(tasks), sentText(d.Sent, -1), data)
	if err != nil {
		return ReplayResult{}, fmt.Errorf("replay degraded activation %s: %w", d.ID, err)
	}
	res, _ := v.([]any)
	if len(res) < 2 {
		return ReplayResult{}, unavailable(fmt.Errorf("replay degraded activation %s: unexpected reply %v", d.ID, v))
	}
	out := ReplayResult{Fresh: toInt(res[0]) == 1, Activation: toString(res[1])}
	for _, n := range res[2:] {
		out.Tasks = append(out.Tasks, toInt(n))
	}
	if !out.Fresh && !strings.HasPrefix(out.Activation, "A-") {
		return out, fmt.Errorf("replay degraded activation %s: %w", d.ID, ErrReplayStuck)
	}
	return out, nil
}

// ErrReplayStuck: an entry's marker exists but names no activation (a
// replay script that failed halfway); it is not replayed again.
var ErrReplayStuck = errors.New("degraded replay marker without an activation")

// sentText says, for a timeline, what went out directly for task i (or,
// with i < 0, for the whole activation).
func sentText(sent []DegradedSend, i int) string {
	var parts []string
	for _, m := range sent {
		if i >= 0 && m.Task != i {
			continue
		}
		dest := m.To
		if m.Site != "" {
			dest = "site " + m.Site
		}
		parts = append(parts, m.Channel+" "+m.Kind+" to "+dest)
	}
	if len(parts) == 0 {
		return "nothing sent directly"
	}
	return "sent directly: " + strings.Join(parts, ", ")
}
