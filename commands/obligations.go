package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// obligationClocks are the clocks an incident of category and severity
// at site starts: one per obligation of the config it matches.
func (s *Service) obligationClocks(category, severity, site string) []store.ObligationClock {
	var out []store.ObligationClock
	for _, o := range s.cfg().MatchingObligations(category, severity, site) {
		kind := ""
		if ct, ok := s.cfg().Contact(o.Notify); ok {
			kind = ct.Kind
		}
		out = append(out, store.ObligationClock{ID: o.ID, Contact: o.Notify, Kind: kind, Owner: o.Owner, Within: o.Within.D()})
	}
	return out
}

const severityUsage = "Usage: /incident severity INC-n sev1..sev4"

// incidentSeverity changes an incident's severity; obligations the new
// severity matches start their clocks.
func (s *Service) incidentSeverity(ctx context.Context, c *call, args []string) Reply {
	if len(args) != 2 {
		return fail(severityUsage)
	}
	num, err := store.ParseID("INC", args[0])
	if err != nil {
		return fail(err.Error() + ". " + severityUsage)
	}
	sev := strings.ToLower(args[1])
	if !slices.Contains(store.Severities, sev) {
		return fail(fmt.Sprintf("Severity is sev1 to sev4 (sev1 the most serious), not %s. %s", args[1], severityUsage))
	}
	id := store.FormatID("INC", num)
	if !c.who.HasAnyRole(configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator) {
		return fail(fmt.Sprintf("Only a supervisor, control or a coordinator may change an incident's severity; you are %s. Add what you know with /incident update %s <text>.", strings.Join(c.who.Roles, ", "), id))
	}
	cur, err := c.st.Incident(ctx, num)
	if err != nil {
		return s.failErr(err, id)
	}
	clocks := s.obligationClocks(cur.Category, sev, cur.Site)
	line := fmt.Sprintf("%s severity %s -> %s by %s", id, cur.Severity, sev, c.who.Name)
	_, started, err := c.st.ChangeSeverity(ctx, num, c.who.ID, sev, clocks, store.OutMessage{Channel: notify.Chat, Kind: "update", Text: line})
	var se *store.StateError
	switch {
	case errors.As(err, &se) && se.Status == store.StatusResolved:
		return fail(fmt.Sprintf("%s is resolved; its severity stays as recorded.", id))
	case errors.As(err, &se):
		return fail(fmt.Sprintf("%s is already %s.", id, se.Status))
	case err != nil:
		return s.failErr(err, id)
	}
	if started > 0 {
		line += fmt.Sprintf("; %d obligation clock(s) started: /incident show %s", started, id)
	}
	if s.engine != nil && started > 0 {
		s.engine.Poke()
	}
	return Reply{Text: line, Public: true, Ref: id}
}

const notifiedUsage = "Usage: /incident notified INC-n <obligation> <reference, e.g. the police log number>"

// incidentNotified records that an obligation's contact was told.
func (s *Service) incidentNotified(ctx context.Context, c *call, args []string) Reply {
	if len(args) < 3 {
		return fail(notifiedUsage)
	}
	num, err := store.ParseID("INC", args[0])
	if err != nil {
		return fail(err.Error() + ". " + notifiedUsage)
	}
	id := store.FormatID("INC", num)
	oid := strings.ToLower(args[1])
	ref := strings.TrimSpace(c.rest(args, 2))
	_, err = c.st.ObligationsMet(ctx, num, c.who.ID, []string{oid}, ref, store.ViaNotified, nil)
	var se *store.StateError
	switch {
	case errors.Is(err, store.ErrNoObligation):
		return fail(fmt.Sprintf("%s has no obligation %q. /incident show %s lists its obligations.", id, args[1], id))
	case errors.As(err, &se):
		return fail(fmt.Sprintf("Obligation %s of %s is already met. /incident show %s says when and by whom.", oid, id, id))
	case err != nil:
		return s.failErr(err, id)
	}
	return Reply{Text: fmt.Sprintf("%s: obligation %s met: %s told at %s by %s, reference %s.", id, oid, s.contactName(obligationContact(s.cfg(), oid)), s.localTime(s.now()), c.who.Name, ref), Ref: id}
}

// obligationContact is the contact id of obligation oid ("" if unknown).
func obligationContact(cfg *configs.Config, oid string) string {
	if o, ok := cfg.Obligation(oid); ok {
		return o.Notify
	}
	return ""
}

func (s *Service) contactName(id string) string {
	if ct, ok := s.cfg().Contact(id); ok {
		return ct.Name
	}
	if id == "" {
		return "the contact"
	}
	return id
}

const sendUsage = "Usage: /incident send INC-n <contact> <text>"

// incidentSend texts a contact about an incident through the paced
// outbox and records it as the notification of the incident's
// obligations to that contact still open.
func (s *Service) incidentSend(ctx context.Context, c *call, args []string) Reply {
	if len(args) < 3 {
		return fail(sendUsage)
	}
	num, err := store.ParseID("INC", args[0])
	if err != nil {
		return fail(err.Error() + ". " + sendUsage)
	}
	id := store.FormatID("INC", num)
	cid := strings.ToLower(args[1])
	ct, ok := s.cfg().Contact(cid)
	if !ok {
		var ids []string
		for _, x := range s.cfg().Contacts {
			ids = append(ids, x.ID)
		}
		return fail(fmt.Sprintf("Unknown contact %q. Contacts: %s.", args[1], orNone(strings.Join(ids, ", "))))
	}
	if ct.Phone == "" {
		return fail(fmt.Sprintf("%s has no phone number in the config: tell them another way, then /incident notified %s <obligation> <reference>.", ct.Name, id))
	}
	if !c.who.HasAnyRole(configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator) && !s.ownsObligationTo(c.who, cid) {
		return fail(fmt.Sprintf("Only a supervisor, control, a coordinator or an obligation's owner may text %s; you are %s.", ct.Name, strings.Join(c.who.Roles, ", ")))
	}
	text := strings.TrimSpace(c.rest(args, 2))
	obls, err := c.st.Obligations(ctx, num)
	if err != nil {
		return s.failErr(err, id)
	}
	var ids []string
	for _, o := range obls {
		if o.Contact == cid && o.Status != store.ObligationMet {
			ids = append(ids, o.ID)
		}
	}
	body := fmt.Sprintf("%s, %s: %s (%s)", s.cfg().Organization, id, text, c.who.Name)
	met, err := c.st.ObligationsMet(ctx, num, c.who.ID, ids, clip(text, 200), store.ViaSMS,
		map[string]any{"contact": cid, "text": text},
		store.OutMessage{Key: fmt.Sprintf("%s:send:%s:%d", id, cid, s.now().UnixNano()), Channel: notify.SMS,
			To: configs.ContactPrefix + cid, Kind: "contact", Text: body})
	var se *store.StateError
	switch {
	case errors.As(err, &se):
		return fail(fmt.Sprintf("An obligation of %s to %s was met meanwhile; nothing was sent. Send again to text them anyway.", id, ct.Name))
	case err != nil:
		return s.failErr(err, id)
	}
	reply := fmt.Sprintf("%s: SMS to %s queued at %s.", id, ct.Name, s.localTime(s.now()))
	if len(met) > 0 {
		reply += " Obligation met: " + strings.Join(met, ", ") + "."
	}
	return Reply{Text: reply, Ref: id}
}

func orNone(s string) string {
	if s == "" {
		return "none configured"
	}
	return s
}

// ownsObligationTo reports whether p holds the owner role of an
// obligation to contact.
func (s *Service) ownsObligationTo(p *configs.Person, contact string) bool {
	for _, o := range s.cfg().Obligations {
		if o.Notify == contact && p.HasAnyRole(o.Owner) {
			return true
		}
	}
	return false
}

// obligationLines describes an incident's obligations as /incident show
// lists them: met (when, by whom), pending (time left), missed (by how
// much).
func (s *Service) obligationLines(list []*store.Obligation) []string {
	now := s.now()
	var out []string
	for _, o := range list {
		contact := s.contactName(o.Contact)
		switch {
		case o.Status == store.ObligationMet:
			how := "reference " + o.Reference
			if o.Via == store.ViaSMS {
				how = "by SMS"
			}
			line := fmt.Sprintf("%s: met, %s told %s by %s, %s", o.ID, contact, s.localTime(o.MetTime()), s.personName(o.MetBy), how)
			if o.Late() {
				line += fmt.Sprintf(" (%s late)", FormatLate(o.MetTime().Sub(o.DeadlineAt())))
			}
			out = append(out, line)
		case o.Missed(now):
			out = append(out, fmt.Sprintf("%s: MISSED by %s: %s not told by %s", o.ID, FormatLate(now.Sub(o.DeadlineAt())), contact, s.localTime(o.DeadlineAt())))
		default:
			out = append(out, fmt.Sprintf("%s: pending, %s left to tell %s (by %s)", o.ID, FormatLate(o.DeadlineAt().Sub(now)), contact, s.localTime(o.DeadlineAt())))
		}
	}
	return out
}

// FormatLate writes a span to the minute: 45m, 1h05m.
func FormatLate(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Hour {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
