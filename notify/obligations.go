package notify

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/store"
)

// tickObligations runs the obligation clocks that fell due: a reminder to
// the on-duty holder of the owner role, or, at the deadline, the
// obligation missed and the coordinators told. The clocks share the
// engine's claim-under-lease and fence: a process that dies mid-step
// leaves its claim to another when the lease ends.
func (e *Engine) tickObligations(ctx context.Context) error {
	for ctx.Err() == nil {
		now := e.clock.Now()
		claims, err := e.st.ClaimObligations(ctx, now, e.lease, e.batch)
		if err != nil || len(claims) == 0 {
			return err
		}
		b := &batch{e: e, now: now}
		runs := make([]store.ObligationRun, len(claims))
		for i, c := range claims {
			runs[i] = e.obligationStep(ctx, b, c)
		}
		res, err := e.st.RunObligationSteps(ctx, runs)
		if err != nil {
			return err
		}
		for i, r := range runs {
			if i < len(res) && res[i] == store.StepOK && e.log.Core().Enabled(zap.InfoLevel) {
				e.log.Info("obligation clock", zap.String("obligation", r.Member), zap.String("action", r.Action),
					zap.Duration("late", now.Sub(claims[i].Due)))
			}
		}
		if len(claims) < e.batch {
			return nil
		}
	}
	return nil
}

// obligationStep decides what a claimed obligation deadline does.
func (e *Engine) obligationStep(ctx context.Context, b *batch, c store.ObligationClaim) store.ObligationRun {
	run := store.ObligationRun{Member: c.Member, Until: c.Until, Action: store.ObligationDrop}
	o := c.Record
	if o == nil || o.Status != store.ObligationPending || len(o.Due) == 0 {
		return run
	}
	run.Step = o.Step
	inc := store.FormatID("INC", o.Incident)
	contact := o.Contact
	if ct, ok := e.cfg().Contact(o.Contact); ok {
		contact = ct.Name + " (" + ct.Kind + ")"
	}
	site := o.Site
	if s, ok := e.cfg().Site(o.Site); ok {
		site = s.Name
	}
	owner := ""
	if sh, ok := roster.OnDuty(e.cfg(), o.Site, o.Owner, b.now, b.covers(ctx)); ok && sh.Person != nil {
		owner = sh.Person.ID
	}
	deadline := o.DeadlineAt().In(e.cfg().Location()).Format("15:04")
	if o.Step < len(o.Due)-1 {
		left := o.DeadlineAt().Sub(b.now).Round(time.Minute)
		text := fmt.Sprintf("%s at %s: %s must be told by %s (%s left). When done: /incident notified %s %s <reference>",
			inc, site, contact, deadline, configs.FormatDuration(left), inc, o.ID)
		to := []string{owner}
		if owner == "" {
			to = e.coordinatorIDs()
		}
		for _, who := range to {
			for _, ch := range []string{Chat, SMS} {
				run.Messages = append(run.Messages, store.OutMessage{Key: fmt.Sprintf("%s:%s:%d:%s:%s", inc, o.ID, o.Step, who, ch),
					Channel: ch, To: who, Site: o.Site, Kind: "obligation", Ref: inc, Text: text})
			}
		}
		run.Action = store.ObligationRemind
		run.Next = time.UnixMilli(o.Due[o.Step+1])
		run.Audit = map[string]any{"obligation": o.ID, "contact": o.Contact, "to": to, "step": o.Step + 1, "deadline": o.Deadline}
		return run
	}
	text := fmt.Sprintf("%s at %s: obligation %s MISSED: %s was not told by %s. Tell them now, then /incident notified %s %s <reference>",
		inc, site, o.ID, contact, deadline, inc, o.ID)
	to := e.coordinatorIDs()
	if owner != "" {
		to = append(to, owner)
	}
	seen := map[string]bool{}
	for _, who := range to {
		if seen[who] {
			continue
		}
		seen[who] = true
		for _, ch := range []string{Chat, SMS} {
			run.Messages = append(run.Messages, store.OutMessage{Key: fmt.Sprintf("%s:%s:missed:%s:%s", inc, o.ID, who, ch),
				Channel: ch, To: who, Site: o.Site, Kind: "obligation", Ref: inc, Text: text})
		}
	}
	run.Action = store.ObligationMiss
	run.Audit = map[string]any{"obligation": o.ID, "contact": o.Contact, "kind": o.Kind, "told": to, "deadline": o.Deadline}
	return run
}

func (e *Engine) coordinatorIDs() []string {
	var out []string
	for _, p := range e.cfg().Coordinators() {
		out = append(out, p.ID)
	}
	return out
}
