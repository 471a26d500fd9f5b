package store

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Records is every record of the namespace, read for reports and for the
// retention prune.
type Records struct {
	Incidents   []*Incident   // oldest first
	Activations []*Activation // oldest first
	Tasks       map[int64]*Task
	Drills      []*Drill // oldest first
	Actions     []*CorrectiveAction
}

// AllRecords reads every incident, activation, task, drill and corrective
// action, in pipelined batches.
func (s *Store) AllRecords(ctx context.Context) (*Records, error) {
	r := &Records{Tasks: map[int64]*Task{}}
	if err := s.readAll(ctx, "incidents", "incident", func(m map[string]string) {
		r.Incidents = append(r.Incidents, incidentFromHash(m))
	}); err != nil {
		return nil, err
	}
	var taskNums []int64
	if err := s.readAll(ctx, "activations", "activation", func(m map[string]string) {
		a := activationFromHash(m)
		r.Activations = append(r.Activations, a)
		taskNums = append(taskNums, a.Tasks...)
	}); err != nil {
		return nil, err
	}
	for len(taskNums) > 0 {
		n := min(len(taskNums), 500)
		ts, err := s.Tasks(ctx, taskNums[:n])
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			r.Tasks[t.Num] = t
		}
		taskNums = taskNums[n:]
	}
	if err := s.readAll(ctx, "drills", "drill", func(m map[string]string) {
		r.Drills = append(r.Drills, drillFromHash(m))
	}); err != nil {
		return nil, err
	}
	if err := s.readAll(ctx, "actions", "action", func(m map[string]string) {
		r.Actions = append(r.Actions, actionFromHash(m))
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// readAll reads every record listed in the sorted set index, 500 at a time.
func (s *Store) readAll(ctx context.Context, index, kind string, fn func(map[string]string)) error {
	nums, err := s.rdb.ZRange(s.carry(ctx), s.Key(index), 0, -1).Result()
	if err != nil {
		return unavailable(err)
	}
	for len(nums) > 0 {
		n := min(len(nums), 500)
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, n)
		for i, num := range nums[:n] {
			cmds[i] = pipe.HGetAll(ctx, s.Key(kind, num))
		}
		if _, err := pipe.Exec(s.carry(ctx)); err != nil {
			return unavailable(err)
		}
		for _, c := range cmds {
			if m := c.Val(); len(m) > 0 {
				fn(m)
			}
		}
		nums = nums[n:]
	}
	return nil
}

func drillFromHash(m map[string]string) *Drill {
	return &Drill{
		Num: toInt(m["num"]), Plan: m["plan"], Site: m["site"], Activation: toInt(m["activation"]),
		StartedBy: m["started_by"], Started: fromMS(toInt(m["started"])), Stopped: fromMS(toInt(m["stopped"])),
		StoppedBy: m["stopped_by"], Status: m["status"], Target: time.Duration(toInt(m["target"])) * time.Millisecond,
	}
}

// PrunePlan is what a retention prune would remove: records whose life
// ended before Before and that no legal hold keeps, and the oldest audit
// events up to Before.
type PrunePlan struct {
	Before      time.Time
	Incidents   []int64
	Activations []int64
	Tasks       []int64
	Drills      []int64
	Actions     []int64
	// Events is the prefix of the audit stream to remove. It stops at
	// Before, and at the first event about a record on hold, so the chain
	// that remains is one unbroken run.
	Events []AuditEvent
	// Held names the records kept only because of a legal hold.
	Held []string
}

// Empty reports whether the plan removes nothing.
func (p *PrunePlan) Empty() bool {
	return len(p.Incidents)+len(p.Activations)+len(p.Tasks)+len(p.Drills)+len(p.Actions)+len(p.Events) == 0
}

// PlanPrune works out what a prune with cut-off before would remove:
// resolved incidents resolved before it and not on hold; stood-down
// activations (drills included) closed before it whose incident, if any,
// goes too, with their tasks; stopped drills whose activation goes; each
// with its corrective actions, and only when all of them were finished
// before the cut-off (a record with an action open, or done or verified
// since, stays, with what it is made of); actions of management reviews
// finished before it; and the audit events before it, up to the first
// about a held record.
func (s *Store) PlanPrune(ctx context.Context, before time.Time) (*PrunePlan, error) {
	recs, err := s.AllRecords(ctx)
	if err != nil {
		return nil, err
	}
	p := &PrunePlan{Before: before}
	actions := map[string][]*CorrectiveAction{}
	for _, ca := range recs.Actions {
		actions[ca.Subject] = append(actions[ca.Subject], ca)
	}
	// An action keeps its record until it was finished (done, and
	// verified if it was) before the cut-off.
	open := func(subject string) bool {
		for _, ca := range actions[subject] {
			if !ca.Finished() || !ca.DoneAt.Before(before) || !ca.VerifiedAt.IsZero() && !ca.VerifiedAt.Before(before) {
				return true
			}
		}
		return false
	}
	withActions := func(subject string) {
		for _, ca := range actions[subject] {
			p.Actions = append(p.Actions, ca.Num)
		}
	}
	goneInc := map[int64]bool{}
	heldRefs := map[string]bool{}
	for _, inc := range recs.Incidents {
		switch {
		case inc.Hold:
			heldRefs[inc.ID()] = true
			if inc.Status == StatusResolved && inc.ResolvedAt.Before(before) {
				p.Held = append(p.Held, inc.ID())
			}
		case inc.Status == StatusResolved && inc.ResolvedAt.Before(before) && !open(inc.ID()):
			goneInc[inc.Num] = true
			p.Incidents = append(p.Incidents, inc.Num)
			withActions(inc.ID())
		}
	}
	goneAct := map[int64]bool{}
	for _, a := range recs.Activations {
		if a.Incident > 0 && heldRefs[FormatID("INC", a.Incident)] {
			heldRefs[a.ID()] = true
			for _, t := range a.Tasks {
				heldRefs[FormatID("T", t)] = true
			}
			if a.Status == "stood_down" && a.ClosedAt.Before(before) {
				p.Held = append(p.Held, a.ID())
			}
			continue
		}
		if a.Status != "stood_down" || !a.ClosedAt.Before(before) || (a.Incident > 0 && !goneInc[a.Incident]) || open(a.ID()) {
			continue
		}
		goneAct[a.Num] = true
	}
	// A drill goes only with its activation; a drill that stays keeps its
	// activation and tasks, so its report still has what it is made of.
	for _, d := range recs.Drills {
		if d.Status != "stopped" || !goneAct[d.Activation] || open(d.ID()) {
			delete(goneAct, d.Activation)
			continue
		}
		p.Drills = append(p.Drills, d.Num)
		withActions(d.ID())
	}
	for _, a := range recs.Activations {
		if !goneAct[a.Num] {
			continue
		}
		p.Activations = append(p.Activations, a.Num)
		withActions(a.ID())
		for _, t := range a.Tasks {
			if task, ok := recs.Tasks[t]; ok && task.Status != TaskOpen {
				p.Tasks = append(p.Tasks, t)
			}
		}
	}
	for _, ca := range actions[ReviewSubject] {
		if ca.Finished() && ca.DoneAt.Before(before) && (ca.VerifiedAt.IsZero() || ca.VerifiedAt.Before(before)) {
			p.Actions = append(p.Actions, ca.Num)
		}
	}
	errStop := errors.New("stop")
	err = s.ScanAudit(ctx, "", func(e AuditEvent) error {
		// Only sealed events go: the checkpoint names a hash the sealer
		// vouched for.
		if !e.Sealed || !e.At.Before(before) {
			return errStop
		}
		// A messages.sent holds several records' messages: any held
		// keeps it.
		for _, m := range e.Messages() {
			if heldRefs[m.Subject] {
				return errStop
			}
		}
		p.Events = append(p.Events, e)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	// Never remove the last event: the chain head must stay in the stream.
	if head, err := s.AuditHead(ctx); err != nil {
		return nil, err
	} else if n := len(p.Events); n > 0 && p.Events[n-1].Seq == head.Seq {
		p.Events = p.Events[:n-1]
	}
	return p, nil
}

// ExportRecord is one line of a prune export (JSON Lines): a record with
// its timeline, or an audit event.
type ExportRecord struct {
	// Type is incident, activation, task, drill, action or audit.
	Type string `json:"type"`
	// Ref is the record's id (INC-4) or, for an audit event, its seq.
	Ref string `json:"ref"`
	// Fields are the record's stored fields.
	Fields map[string]string `json:"fields,omitempty"`
	// Timeline is the record's timeline, oldest first.
	Timeline []ExportTimeline `json:"timeline,omitempty"`
	// Event is the audit event, exactly as stored.
	Event *ExportEvent `json:"event,omitempty"`
}

// ExportTimeline is one timeline entry in an export.
type ExportTimeline struct {
	At    string `json:"at"` // RFC 3339, UTC
	Actor string `json:"actor"`
	Kind  string `json:"kind"`
	Text  string `json:"text"`
}

// WritePruneExport writes everything the plan removes to w as JSON Lines,
// records first, then the audit events. Write it (and sync it) before
// ApplyPrune.
func (s *Store) WritePruneExport(ctx context.Context, p *PrunePlan, w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	// Activations' and tasks' timelines are read from the audit chain.
	var history map[string][]AuditEvent
	if len(p.Activations)+len(p.Tasks) > 0 {
		var err error
		if history, err = s.History(ctx); err != nil {
			return err
		}
	}
	for _, g := range []struct {
		typ, kind, prefix string
		nums              []int64
		timeline          bool
	}{
		{"incident", "incident", "INC", p.Incidents, true},
		{"activation", "activation", "A", p.Activations, true},
		{"task", "task", "T", p.Tasks, true},
		{"drill", "drill", "D", p.Drills, false},
		{"action", "action", "CA", p.Actions, false},
	} {
		for _, n := range g.nums {
			num := strconv.FormatInt(n, 10)
			m, err := s.rdb.HGetAll(s.carry(ctx), s.Key(g.kind, num)).Result()
			if err != nil {
				return unavailable(err)
			}
			rec := ExportRecord{Type: g.typ, Ref: FormatID(g.prefix, n), Fields: m}
			if g.timeline {
				var tl []TimelineEntry
				if g.kind == "incident" {
					var err error
					if tl, err = s.timeline(ctx, s.Key(g.kind, num, "timeline")); err != nil {
						return err
					}
				} else {
					tl = RecordTimeline(rec.Ref, history)
				}
				for _, e := range tl {
					rec.Timeline = append(rec.Timeline, ExportTimeline{At: e.At.UTC().Format(time.RFC3339Nano), Actor: e.Actor, Kind: e.Kind, Text: e.Text})
				}
			}
			if err := enc.Encode(rec); err != nil {
				return fmt.Errorf("write export: %w", err)
			}
		}
	}
	for i := range p.Events {
		x := p.Events[i].Export()
		if err := enc.Encode(ExportRecord{Type: "audit", Ref: x.Seq, Event: &x}); err != nil {
			return fmt.Errorf("write export: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	return nil
}

var (
	checkpointScript = loadScript("audit_checkpoint")
	pruneScript      = loadScript("records_prune")
)

// ApplyPrune removes what the plan names, after the caller wrote it out
// with WritePruneExport (export names that file, exportSHA its SHA-256).
// It first appends the checkpoint event (records.pruned) to the chain,
// then removes the audit events, then the records, in small batches so
// Redis is never blocked for long. A hold placed since the plan was made
// still keeps its incident. It returns the checkpoint.
func (s *Store) ApplyPrune(ctx context.Context, p *PrunePlan, actor, export, exportSHA string) (*PruneCheckpoint, error) {
	cp := &PruneCheckpoint{Before: p.Before.UTC().Format(time.RFC3339), Events: len(p.Events), Incidents: len(p.Incidents),
		Activations: len(p.Activations), Tasks: len(p.Tasks), Drills: len(p.Drills), Actions: len(p.Actions),
		Export: export, ExportSHA256: exportSHA}
	lastID, lastSeq := "", ""
	if n := len(p.Events); n > 0 {
		first, last := p.Events[0], p.Events[n-1]
		cp.FromSeq, cp.ToSeq, cp.LastHash, cp.LastID = first.Seq, last.Seq, last.Hash, last.ID
		if head, err := s.AuditHead(ctx); err == nil && head.PrunedTo > 0 {
			cp.FromSeq = 1 // the earlier prunes' range is part of this one
		}
		lastID, lastSeq = last.ID, last.SeqRaw
	} else if head, err := s.AuditHead(ctx); err != nil {
		return nil, err
	} else {
		cp.ToSeq, cp.LastHash = head.PrunedTo, head.PrunedHash
		if head.PrunedTo > 0 {
			cp.FromSeq = 1
		}
	}
	if _, err := s.run(ctx, checkpointScript, ms(s.now()), actor, lastID, lastSeq, cp.LastHash, mustJSON(cp)); err != nil {
		return nil, fmt.Errorf("prune checkpoint: %w", err)
	}
	for ids := eventIDs(p.Events); len(ids) > 0; {
		n := min(len(ids), 500)
		if err := s.rdb.XDel(s.carry(ctx), s.Key("audit"), ids[:n]...).Err(); err != nil {
			return cp, unavailable(err)
		}
		ids = ids[n:]
	}
	if err := s.pruneSeals(ctx, cp.ToSeq); err != nil {
		return cp, err
	}
	type ref struct {
		T string `json:"t"`
		N int64  `json:"n"`
	}
	var refs []ref
	for _, g := range []struct {
		t    string
		nums []int64
	}{{"action", p.Actions}, {"drill", p.Drills}, {"task", p.Tasks}, {"activation", p.Activations}, {"incident", p.Incidents}} {
		for _, n := range g.nums {
			refs = append(refs, ref{g.t, n})
		}
	}
	for len(refs) > 0 {
		n := min(len(refs), 100)
		if _, err := s.run(ctx, pruneScript, mustJSON(refs[:n])); err != nil {
			return cp, fmt.Errorf("prune records: %w", err)
		}
		refs = refs[n:]
	}
	return cp, nil
}

// pruneSeals removes the seals that cover only pruned events (up to seq
// to): what they vouched for is gone, and the checkpoint stands for it.
func (s *Store) pruneSeals(ctx context.Context, to int64) error {
	if to <= 0 {
		return nil
	}
	msgs, err := s.rdb.XRange(s.carry(ctx), s.Key("audit:seals"), "-", "+").Result()
	if err != nil {
		return unavailable(err)
	}
	var ids []string
	for _, m := range msgs {
		if toInt(m.Values["to"]) <= to {
			ids = append(ids, m.ID)
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		if err := s.rdb.XDel(s.carry(ctx), s.Key("audit:seals"), ids[:n]...).Err(); err != nil {
			return unavailable(err)
		}
		ids = ids[n:]
	}
	return nil
}

func eventIDs(evs []AuditEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}
