package commands

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// severityWord is a word that means to be a severity (sev1..sev4 are the
// valid ones): "sev5" is a mistake to point out, not text.
var severityWord = regexp.MustCompile(`^sev[0-9]+$`)

const incidentUsage = "Usage: /incident raise <category> [sev1..sev4] [@site] <text> · list [open|all] [@site] · show INC-n · update INC-n <text> · ack INC-n · resolve INC-n <summary> · hold|release INC-n [reason] · severity INC-n sevN · notified INC-n <obligation> <reference> · send INC-n <contact> <text>"

func (s *Service) incident(ctx context.Context, c *call) Reply {
	if len(c.args) == 0 {
		return fail(incidentUsage)
	}
	sub, args := strings.ToLower(c.args[0]), c.args[1:]
	switch sub {
	case "raise", "new", "report":
		return s.incidentRaise(ctx, c, args)
	case "list", "ls":
		return s.incidentList(ctx, c, args)
	case "show":
		return s.incidentShow(ctx, c, args)
	case "update", "note":
		return s.incidentChange(ctx, c, args, store.ActionUpdate)
	case "resolve", "close":
		return s.incidentChange(ctx, c, args, store.ActionResolve)
	case "ack", "acknowledge":
		return s.incidentChange(ctx, c, args, store.ActionAcknowledge)
	case "severity", "sev":
		return s.incidentSeverity(ctx, c, args)
	case "notified":
		return s.incidentNotified(ctx, c, args)
	case "send":
		return s.incidentSend(ctx, c, args)
	case "hold":
		return s.incidentHold(ctx, c, args, store.ActionHold)
	case "release":
		return s.incidentHold(ctx, c, args, store.ActionRelease)
	}
	return fail(fmt.Sprintf("Unknown /incident %s. %s", sub, incidentUsage))
}

func (s *Service) incidentRaise(ctx context.Context, c *call, args []string) Reply {
	// The leading words are an optional @site, the category, then an
	// optional severity and an optional @site in either order. Everything
	// after them is the text, as typed: an @word inside it is text, not a
	// site.
	var site *configs.Site
	i := 0
	takeSite := func() *Reply {
		st, _, bad := s.siteArg(args[i : i+1])
		if bad != nil {
			return bad
		}
		site = st
		i++
		return nil
	}
	if i < len(args) && strings.HasPrefix(args[i], "@") {
		if bad := takeSite(); bad != nil {
			return *bad
		}
	}
	if i >= len(args) {
		return fail("Usage: /incident raise <category> [sev1..sev4] [@site] <text>. Categories: " + strings.Join(s.cfg().Categories, ", ") + ".")
	}
	cat := strings.ToLower(args[i])
	if !s.cfg().HasCategory(cat) {
		return fail(fmt.Sprintf("Unknown category %q. Use one of: %s.", args[i], strings.Join(s.cfg().Categories, ", ")))
	}
	i++
	sev := ""
	for i < len(args) {
		word := strings.ToLower(args[i])
		if site == nil && strings.HasPrefix(word, "@") {
			if bad := takeSite(); bad != nil {
				return *bad
			}
			continue
		}
		if sev == "" && severityWord.MatchString(word) {
			if !slices.Contains(store.Severities, word) {
				return fail(fmt.Sprintf("Severity is sev1 to sev4 (sev1 the most serious), not %s: /incident raise %s sev2 @site <text>.", args[i], cat))
			}
			sev = word
			i++
			continue
		}
		break
	}
	if sev == "" {
		sev = store.DefaultSeverity
	}
	if site == nil {
		var ok bool
		if site, ok = s.defaultSite(c); !ok {
			return fail("Which site? Add one of " + s.siteList() + ", e.g. /incident raise " + cat + " " + sev + " @" + s.cfg().Sites[0].ID + " what you see.")
		}
	}
	text := strings.TrimSpace(c.rest(args, i))
	if text == "" {
		return fail("Say what happened: /incident raise " + cat + " " + sev + " @" + site.ID + " <what you see, where>.")
	}
	summary := fmt.Sprintf("%s %s %s at %s by %s: %s", store.IDPlaceholder+" raised:", sev, cat, site.Name, c.who.Name, text)
	clocks := s.obligationClocks(cat, sev, site.ID)
	inc, err := c.st.RaiseIncident(ctx, store.NewIncident{Site: site.ID, Category: cat, Severity: sev, Reporter: c.who.ID, Text: text,
		Obligations: clocks}, store.OutMessage{Channel: notify.Chat, Site: site.ID, Kind: "incident", Text: summary})
	if err != nil && !(errors.Is(err, store.ErrNotReplicated) && inc != nil) {
		return s.failErr(err, "the incident")
	}
	if len(clocks) > 0 && s.engine != nil {
		s.engine.Poke()
	}
	r := Reply{Text: strings.ReplaceAll(summary, store.IDPlaceholder, inc.ID()), Public: true, Ref: inc.ID()}
	if err != nil {
		r.Text += "\n" + notConfirmed(inc.ID())
	}
	return r
}

func (s *Service) incidentList(ctx context.Context, c *call, args []string) Reply {
	site, args, bad := s.siteArg(args)
	if bad != nil {
		return *bad
	}
	openOnly := true
	for _, a := range args {
		switch strings.ToLower(a) {
		case "open":
			openOnly = true
		case "all":
			openOnly = false
		default:
			return fail("Usage: /incident list [open|all] [@site]")
		}
	}
	f := store.IncidentFilter{OpenOnly: openOnly, Limit: 20}
	if site != nil {
		f.Site = site.ID
	}
	list, err := c.st.ListIncidents(ctx, f)
	if err != nil {
		return s.failErr(err, "the incident list")
	}
	scope := "Open incidents"
	if !openOnly {
		scope = "Incidents"
	}
	if site != nil {
		scope += " at " + site.Name
	}
	if len(list) == 0 {
		return Reply{Text: scope + ": none."}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d, newest first):", scope, len(list))
	for _, inc := range list {
		fmt.Fprintf(&b, "\n%s  %s  %-8s %-12s @%s  %s  %s", inc.ID(), s.localTime(inc.Created), inc.Severity, inc.Status, inc.Site, inc.Category, clip(inc.Text, 60))
	}
	return Reply{Text: b.String()}
}

func (s *Service) incidentShow(ctx context.Context, c *call, args []string) Reply {
	if len(args) != 1 {
		return fail("Usage: /incident show INC-n")
	}
	num, err := store.ParseID("INC", args[0])
	if err != nil {
		return fail(err.Error() + ". Usage: /incident show INC-n")
	}
	inc, tl, obls, err := c.st.IncidentRecord(ctx, num)
	if err != nil {
		return s.failErr(err, store.FormatID("INC", num))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s at %s, %s\n", inc.ID(), inc.Severity, inc.Category, s.siteName(inc.Site), inc.Status)
	fmt.Fprintf(&b, "Raised %s by %s: %s", s.localTime(inc.Created), s.personName(inc.Reporter), inc.Text)
	if inc.Status == store.StatusResolved {
		fmt.Fprintf(&b, "\nResolved %s by %s: %s", s.localTime(inc.ResolvedAt), s.personName(inc.ResolvedBy), inc.Summary)
	}
	if lines := s.obligationLines(obls); len(lines) > 0 {
		b.WriteString("\nObligations:")
		for _, l := range lines {
			b.WriteString("\n  " + l)
		}
	}
	if len(tl) > 1 {
		b.WriteString("\nTimeline:")
		for _, e := range tl {
			fmt.Fprintf(&b, "\n  %s %s %s: %s", s.localTime(e.At), s.personName(e.Actor), e.Kind, clip(e.Text, 120))
		}
	}
	return Reply{Text: b.String(), Ref: inc.ID()}
}

func (s *Service) incidentChange(ctx context.Context, c *call, args []string, action string) Reply {
	usage := map[string]string{
		store.ActionUpdate:      "Usage: /incident update INC-n <what changed>",
		store.ActionResolve:     "Usage: /incident resolve INC-n <summary of the outcome>",
		store.ActionAcknowledge: "Usage: /incident ack INC-n",
	}[action]
	if len(args) == 0 {
		return fail(usage)
	}
	num, err := store.ParseID("INC", args[0])
	if err != nil {
		return fail(err.Error() + ". " + usage)
	}
	text := strings.TrimSpace(c.rest(args, 1))
	if text == "" && action != store.ActionAcknowledge {
		return fail(usage)
	}
	if action != store.ActionUpdate && !c.who.HasAnyRole(configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator) {
		return fail(fmt.Sprintf("Only a supervisor, control or a coordinator may %s an incident; you are %s. Add what you know with /incident update %s <text>.", action, strings.Join(c.who.Roles, ", "), store.FormatID("INC", num)))
	}
	id := store.FormatID("INC", num)
	when := s.localTime(s.now())
	var line string
	switch action {
	case store.ActionUpdate:
		line = fmt.Sprintf("%s updated by %s: %s", id, c.who.Name, text)
	case store.ActionAcknowledge:
		line = fmt.Sprintf("%s acknowledged by %s at %s", id, c.who.Name, when)
	case store.ActionResolve:
		line = fmt.Sprintf("%s resolved by %s at %s: %s", id, c.who.Name, when, text)
	}
	inc, err := c.st.ChangeIncident(ctx, num, c.who.ID, action, text, store.OutMessage{Channel: notify.Chat, Kind: "update", Text: line})
	var se *store.StateError
	switch {
	case errors.As(err, &se):
		return fail(fmt.Sprintf("%s is already %s.", id, se.Status))
	case errors.Is(err, store.ErrNotFound):
		return fail(fmt.Sprintf("There is no %s. /incident list shows the open ones.", id))
	case err != nil:
		return s.failErr(err, id)
	}
	_ = inc
	return Reply{Text: line, Public: true, Ref: id}
}

// clip shortens text for one-line lists.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
