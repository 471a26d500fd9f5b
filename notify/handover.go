package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/store"
)

// Handover posts a notice to a site's channel at every shift change: who
// hands over to whom, and what is still open. Every process runs one; the
// notice's idempotency key makes it go out once.
type Handover struct {
	conf  configs.Current
	st    HandoverRecords
	clock clock.Clock
	log   *zap.Logger
}

// NewHandover builds a hand-over notifier.
func NewHandover(cfg configs.Current, st HandoverRecords, clk clock.Clock, log *zap.Logger) *Handover {
	if log == nil {
		log = zap.NewNop()
	}
	return &Handover{conf: cfg, st: st, clock: clk, log: log}
}

// cfg is the configuration in force now.
func (h *Handover) cfg() *configs.Config { return h.conf.Current() }

// coverPoll bounds how long Run sleeps between looks at the covers: a
// cover put in (by any process) while Run sleeps is seen within it.
const coverPoll = time.Minute

// Run posts hand-over notices until ctx ends, and adds whoever a cover
// puts on duty to the open roll calls of the cover's site when the cover
// starts (JoinCovers).
func (h *Handover) Run(ctx context.Context) error {
	last := h.clock.Now()
	for ctx.Err() == nil {
		now := h.clock.Now()
		hand := h.NextHandover(now)
		next := now.Add(coverPoll)
		if hand.Before(next) {
			next = hand
		}
		if overrides, err := h.st.Overrides(ctx); err == nil {
			for _, o := range overrides {
				if o.From.After(now) && o.From.Before(next) {
					next = o.From
				}
			}
		}
		c, stop := h.clock.After(next.Sub(now))
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-c:
		}
		stop()
		at := h.clock.Now()
		if !at.Before(hand) {
			if err := h.Post(ctx, hand); err != nil && ctx.Err() == nil {
				h.log.Warn("hand-over notice not queued", zap.Error(err))
			}
		}
		// A window not looked at (Redis unreachable) is looked at
		// again next time, so a cover's start is never passed over.
		if err := h.JoinCovers(ctx, last, at); err != nil {
			if ctx.Err() == nil {
				h.log.Warn("covers not joined to open roll calls; trying again", zap.Error(err))
			}
			continue
		}
		last = at
	}
	return nil
}

// NextHandover is the first shift change of any roster after now.
func (h *Handover) NextHandover(now time.Time) time.Time {
	next := now.Add(24 * time.Hour)
	for i := range h.cfg().Rosters {
		sh := roster.At(h.cfg(), &h.cfg().Rosters[i], now, nil)
		if sh.End.After(now) && sh.End.Before(next) {
			next = sh.End
		}
	}
	return next
}

// Post queues the notices for every roster whose shift changes at the
// instant at, one per site.
func (h *Handover) Post(ctx context.Context, at time.Time) error {
	overrides, err := h.st.Overrides(ctx)
	if err != nil {
		return err
	}
	bySite := map[string][]string{}
	var keys []string
	// Whoever comes on duty past their rosters' max_continuous (a skip
	// or a cover keeping them on) is flagged in the notice.
	duty := roster.Stretches(h.cfg(), at, at, overrides)
	for i := range h.cfg().Rosters {
		r := &h.cfg().Rosters[i]
		before := roster.At(h.cfg(), r, at.Add(-time.Millisecond), overrides)
		after := roster.At(h.cfg(), r, at, overrides)
		if before.Index == after.Index || !after.Start.Equal(at) {
			continue
		}
		from, to := shiftName(before), shiftName(after)
		if from == to {
			continue
		}
		line := fmt.Sprintf("%s %s → %s", r.Role, from, to)
		if after.Person != nil {
			if st, over := duty.Over(after.Person.ID, at, at); over {
				line += " (" + st.Flag(after.Person.Name, h.cfg().Location()) + ")"
			}
		}
		bySite[r.Site] = append(bySite[r.Site], line)
		keys = append(keys, fmt.Sprintf("%s:%d", r.ID, after.Index))
	}
	if len(bySite) == 0 {
		return nil
	}
	joined := h.joinRollCalls(ctx, at, bySite, overrides)
	sort.Strings(keys)
	var msgs []store.OutMessage
	for site, lines := range bySite {
		name := site
		if s, ok := h.cfg().Site(site); ok {
			name = s.Name
		}
		text := fmt.Sprintf("Shift hand-over at %s, %s: %s.", name, at.In(h.cfg().Location()).Format("15:04"), strings.Join(lines, "; "))
		text += h.openItems(ctx, site)
		if j := joined[site]; len(j) > 0 {
			text += " Added to open roll calls: " + strings.Join(j, ", ") + "."
		}
		msgs = append(msgs, store.OutMessage{
			Key:     fmt.Sprintf("handover:%s:%d", site, at.UnixMilli()),
			Channel: Chat, Site: site, Kind: "handover", Text: text,
		})
	}
	_, err = h.st.Enqueue(ctx, msgs...)
	return err
}

// joinRollCalls adds whoever is on duty at each site whose shift changes
// at the instant at to the open roll calls of that site (those already
// asked are skipped, so every process may do it). It returns, per site,
// "<name> (R-n)" for each person added.
func (h *Handover) joinRollCalls(ctx context.Context, at time.Time, sites map[string][]string, overrides []roster.Override) map[string][]string {
	var people []store.RollCallMember
	for site := range sites {
		for _, sh := range roster.Everyone(h.cfg(), site, at, overrides) {
			people = append(people, store.RollCallMember{Person: sh.Person.ID, Site: site})
		}
	}
	joined, err := JoinOpenRollCalls(ctx, h.st, people, h.log)
	if err != nil {
		h.log.Warn("hand-over: open roll calls not read; nobody added to them", zap.Error(err))
		return nil
	}
	out := map[string][]string{}
	for _, j := range joined {
		out[j.Site] = append(out[j.Site], h.personName(j.Person)+" ("+j.RollCall+")")
	}
	return out
}

// JoinCovers adds whoever a cover puts on duty at an instant in (after,
// at] to the open roll calls of the cover's site, if the cover still
// holds at at (and no later cover overrides it). Every process may do it:
// those already asked are skipped.
func (h *Handover) JoinCovers(ctx context.Context, after, at time.Time) error {
	overrides, err := h.st.Overrides(ctx)
	if err != nil {
		return err
	}
	var people []store.RollCallMember
	for _, o := range overrides {
		if !o.From.After(after) || o.From.After(at) || !o.Active(at) {
			continue
		}
		r, ok := h.cfg().Roster(o.Roster)
		if !ok {
			continue
		}
		if sh := roster.At(h.cfg(), r, at, overrides); sh.Person != nil && sh.Person.ID == o.Person {
			people = append(people, store.RollCallMember{Person: o.Person, Site: r.Site})
		}
	}
	if len(people) == 0 {
		return nil
	}
	_, err = JoinOpenRollCalls(ctx, h.st, people, h.log)
	return err
}

// RollCallJoins is what adding people who came on duty to the open roll
// calls needs of the store.
type RollCallJoins interface {
	OpenRollCalls(ctx context.Context) ([]*store.RollCall, error)
	JoinRollCall(ctx context.Context, num int64, people []store.RollCallMember) (map[string]int64, error)
}

// Joined is one person added to a roll call because they came on duty.
type Joined struct {
	Person, Site, RollCall string
}

// JoinOpenRollCalls adds each of people (someone who came on duty at a
// site) to every open roll call of their site. A person already asked in
// a roll call is skipped by the store, so every process may do it for the
// same people; a roll call stopped meanwhile asks nobody new. It returns
// whom it added (those added by another process are not listed); an
// error only when the open roll calls could not be read.
func JoinOpenRollCalls(ctx context.Context, st RollCallJoins, people []store.RollCallMember, log *zap.Logger) ([]Joined, error) {
	if len(people) == 0 {
		return nil, nil
	}
	rcs, err := st.OpenRollCalls(ctx)
	if err != nil {
		return nil, err
	}
	var out []Joined
	for _, rc := range rcs {
		var in []store.RollCallMember
		seen := map[string]bool{}
		for _, m := range people {
			if !seen[m.Person] && slices.Contains(rc.Sites, m.Site) {
				seen[m.Person] = true
				in = append(in, m)
			}
		}
		if len(in) == 0 {
			continue
		}
		added, err := st.JoinRollCall(ctx, rc.Num, in)
		if err != nil {
			var se *store.StateError
			if !errors.As(err, &se) {
				log.Warn("came on duty during a roll call: not added", zap.String("rollcall", rc.ID()), zap.Error(err))
			}
			continue
		}
		for _, m := range in {
			if _, ok := added[m.Person]; ok {
				out = append(out, Joined{Person: m.Person, Site: m.Site, RollCall: rc.ID()})
				log.Info("came on duty during a roll call: asked", zap.String("rollcall", rc.ID()), zap.String("person", m.Person),
					zap.String("site", m.Site))
			}
		}
	}
	return out, nil
}

func (h *Handover) personName(id string) string {
	if p, ok := h.cfg().Person(id); ok {
		return p.Name
	}
	return id
}

func shiftName(s roster.Shift) string {
	if s.Person != nil {
		return s.Person.Name
	}
	return "nobody"
}

// openItems lists a site's open incidents, lone workers and open tasks
// for the notice.
func (h *Handover) openItems(ctx context.Context, site string) string {
	var b strings.Builder
	incs, err := h.st.ListIncidents(ctx, store.IncidentFilter{OpenOnly: true, Site: site, Limit: 10})
	if err == nil {
		ids := make([]string, 0, len(incs))
		for _, i := range incs {
			ids = append(ids, i.ID()+" "+i.Category)
		}
		if len(ids) == 0 {
			b.WriteString(" Open incidents: none.")
		} else {
			b.WriteString(" Open incidents: " + strings.Join(ids, ", ") + ".")
		}
	}
	if ws, err := h.st.ActiveLoneWorkers(ctx); err == nil {
		loc := h.cfg().Location()
		var lone []string
		for _, w := range ws {
			if w.Site != site {
				continue
			}
			line := fmt.Sprintf("%s %s every %s, ", w.Ref, h.personName(w.Assignee), configs.FormatDuration(w.Every))
			if w.Step > 0 || w.Status == store.TaskUnanswered {
				line += "MISSED the check-in due " + w.Last.Add(w.Every).In(loc).Format("15:04")
			} else {
				line += "next due " + w.Due.In(loc).Format("15:04")
			}
			line += ", until " + w.Until.In(loc).Format("15:04")
			lone = append(lone, line)
		}
		if len(lone) > 0 {
			b.WriteString(" Lone workers: " + strings.Join(lone, "; ") + ".")
		}
	}
	acts, err := h.st.ActiveActivations(ctx)
	if err == nil {
		var open []string
		for _, a := range acts {
			if a.Site != site {
				continue
			}
			tasks, err := h.st.Tasks(ctx, a.Tasks)
			if err != nil {
				continue
			}
			for _, t := range tasks {
				if t.Status == store.TaskOpen || t.Status == store.TaskUnanswered {
					open = append(open, t.ID()+" ("+t.Status+")")
				}
			}
		}
		if len(open) > 0 {
			b.WriteString(" Open tasks: " + strings.Join(open, ", ") + ".")
		}
	}
	return b.String()
}
