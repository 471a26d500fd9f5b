package discord

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// Discord's limits on message parts, in characters.
const (
	maxContent    = 2000
	maxTitle      = 256
	maxEmbedDesc  = 4096
	maxFieldValue = 1024
)

// Flags of interaction responses.
const flagEphemeral = discordgo.MessageFlagsEphemeral

// Button custom_id prefixes; the part after the colon is the record.
const (
	btnAck       = "ack"     // /ack T-n
	btnDone      = "done"    // /done T-n
	btnIncAck    = "incack"  // /incident ack INC-n
	btnIncClose  = "resolve" // /incident resolve INC-n resolved from Discord
	btnSafe      = "safe"    // /rollcall safe R-n
	btnNeedHelp  = "rchelp"  // /rollcall help R-n
	btnCheckin   = "checkin" // /checkin
	resolvedNote = "resolved from Discord"
)

// mentions is the allowed_mentions of every message muster sends: an
// explicit, empty parse list (a nil slice would marshal as null, which
// Discord reads as "parse everything"), and only the given users.
func mentions(users ...string) *discordgo.MessageAllowedMentions {
	am := &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
	for _, u := range users {
		if u != "" {
			am.Users = append(am.Users, u)
		}
	}
	return am
}

// card is a record rendered for Discord.
type card struct {
	embed      *discordgo.MessageEmbed
	components []discordgo.MessageComponent // never nil: an empty list removes the buttons
}

// refKind tells an incident ref from a task ref; "" for anything else.
func refKind(ref string) string {
	switch {
	case strings.HasPrefix(ref, "INC-"):
		return "INC"
	case strings.HasPrefix(ref, "T-"):
		return "T"
	case strings.HasPrefix(ref, "R-"):
		return "R"
	}
	return ""
}

// render reads ref's current state and renders it.
func (a *Adapter) render(ctx context.Context, ref string) (card, error) {
	switch refKind(ref) {
	case "INC":
		n, err := store.ParseID("INC", ref)
		if err != nil {
			return card{}, err
		}
		inc, err := a.st.Incident(ctx, n)
		if err != nil {
			return card{}, fmt.Errorf("read %s: %w", ref, err)
		}
		return a.incidentCard(inc), nil
	case "T":
		n, err := store.ParseID("T", ref)
		if err != nil {
			return card{}, err
		}
		t, err := a.st.Task(ctx, n)
		if err != nil {
			return card{}, fmt.Errorf("read %s: %w", ref, err)
		}
		return a.taskCard(t), nil
	case "R":
		n, err := store.ParseID("R", ref)
		if err != nil {
			return card{}, err
		}
		rc, err := a.st.RollCall(ctx, n)
		if err != nil {
			return card{}, fmt.Errorf("read %s: %w", ref, err)
		}
		people, err := a.st.RollCallSample(ctx, n, notify.TallyLimit)
		if err != nil {
			return card{}, fmt.Errorf("read %s: %w", ref, err)
		}
		return a.tallyCard(rc, people), nil
	}
	return card{}, fmt.Errorf("discord: %q is not an incident, a task or a roll call", ref)
}

// Colours of the embeds' side bar.
const (
	colourSev1     = 0xD32F2F
	colourSev2     = 0xF57C00
	colourSev3     = 0xFBC02D
	colourSev4     = 0x1976D2
	colourAcked    = 0x7B1FA2
	colourClosed   = 0x388E3C
	colourCancel   = 0x9E9E9E
	colourUnanswer = 0xB71C1C
)

func (a *Adapter) incidentCard(inc *store.Incident) card {
	status := inc.Status
	colour := map[string]int{"sev1": colourSev1, "sev2": colourSev2, "sev3": colourSev3, "sev4": colourSev4}[inc.Severity]
	var buttons []discordgo.MessageComponent
	switch inc.Status {
	case store.StatusOpen:
		buttons = []discordgo.MessageComponent{
			button("Acknowledge", discordgo.PrimaryButton, btnIncAck, inc.ID()),
			button("Resolve", discordgo.SuccessButton, btnIncClose, inc.ID()),
		}
	case store.StatusAcknowledged:
		status = fmt.Sprintf("acknowledged by %s at %s", a.personName(inc.AckedBy), a.clock(inc.AckedAt))
		colour = colourAcked
		buttons = []discordgo.MessageComponent{button("Resolve", discordgo.SuccessButton, btnIncClose, inc.ID())}
	case store.StatusResolved:
		status = fmt.Sprintf("resolved by %s at %s: %s", a.personName(inc.ResolvedBy), a.clock(inc.ResolvedAt), inc.Summary)
		colour = colourClosed
	}
	e := &discordgo.MessageEmbed{
		Title:       clip(fmt.Sprintf("%s · %s %s", inc.ID(), strings.ToUpper(inc.Severity), inc.Category), maxTitle),
		Description: clip(inc.Text, maxEmbedDesc),
		Color:       colour,
		Fields: []*discordgo.MessageEmbedField{
			{Name: "Site", Value: clip(a.siteName(inc.Site), maxFieldValue), Inline: true},
			{Name: "Severity", Value: inc.Severity, Inline: true},
			{Name: "Category", Value: clip(inc.Category, maxFieldValue), Inline: true},
			{Name: "Reporter", Value: clip(a.personName(inc.Reporter), maxFieldValue), Inline: true},
			{Name: "Status", Value: clip(status, maxFieldValue)},
		},
		Footer: &discordgo.MessageEmbedFooter{Text: "muster · " + a.cfg().Organization},
	}
	if !inc.Created.IsZero() {
		e.Timestamp = inc.Created.UTC().Format(time.RFC3339)
	}
	return card{embed: e, components: rows(buttons)}
}

func (a *Adapter) taskCard(t *store.Task) card {
	switch t.Kind {
	case store.KindRollCall:
		return a.rollCallCard(t)
	case store.KindCheckin:
		e := &discordgo.MessageEmbed{Title: clip(notify.CheckinReminderText(notify.Chat, t.Ref, a.siteName(t.Site), t.Drill > 0), maxTitle),
			Color: colourSev2, Footer: &discordgo.MessageEmbedFooter{Text: "muster · " + a.cfg().Organization}}
		var buttons []discordgo.MessageComponent
		if t.Status == store.TaskOpen || t.Status == store.TaskUnanswered {
			buttons = []discordgo.MessageComponent{button("Check in", discordgo.SuccessButton, btnCheckin, t.Ref)}
		}
		return card{embed: e, components: rows(buttons)}
	}
	status, colour := t.Status, colourSev2
	var buttons []discordgo.MessageComponent
	switch t.Status {
	case store.TaskOpen:
		buttons = []discordgo.MessageComponent{button("Acknowledge", discordgo.PrimaryButton, btnAck, t.ID())}
	case store.TaskUnanswered:
		colour = colourUnanswer
		buttons = []discordgo.MessageComponent{button("Acknowledge", discordgo.DangerButton, btnAck, t.ID())}
	case store.TaskAcknowledged:
		status = fmt.Sprintf("acknowledged by %s at %s", a.personName(t.AckedBy), a.clock(t.AckedAt))
		if t.AckNote != "" {
			status += " (" + t.AckNote + ")"
		}
		colour = colourAcked
		buttons = []discordgo.MessageComponent{button("Done", discordgo.SuccessButton, btnDone, t.ID())}
	case store.TaskDone:
		status = fmt.Sprintf("done by %s at %s", a.personName(t.DoneBy), a.clock(t.DoneAt))
		colour = colourClosed
	default:
		colour = colourCancel
	}
	title := t.ID() + " · " + t.Title
	if t.Drill != 0 {
		title = "DRILL — " + title
	}
	plan := t.Plan
	if t.Activation != 0 {
		plan += " (" + store.FormatID("A", t.Activation) + ")"
	}
	e := &discordgo.MessageEmbed{
		Title: clip(title, maxTitle),
		Color: colour,
		Fields: []*discordgo.MessageEmbedField{
			{Name: "Site", Value: clip(a.siteName(t.Site), maxFieldValue), Inline: true},
			{Name: "Assigned to", Value: clip(a.personName(t.Assignee), maxFieldValue), Inline: true},
			{Name: "Plan", Value: clip(orDash(plan), maxFieldValue), Inline: true},
			{Name: "Status", Value: clip(status, maxFieldValue)},
		},
		Footer: &discordgo.MessageEmbedFooter{Text: "muster · " + a.cfg().Organization},
	}
	if !t.Created.IsZero() {
		e.Timestamp = t.Created.UTC().Format(time.RFC3339)
	}
	return card{embed: e, components: rows(buttons)}
}

func button(label string, style discordgo.ButtonStyle, action, ref string) discordgo.Button {
	return discordgo.Button{Label: label, Style: style, CustomID: action + ":" + ref}
}

// rows puts buttons in one action row; none gives an empty, non-nil list.
func rows(buttons []discordgo.MessageComponent) []discordgo.MessageComponent {
	if len(buttons) == 0 {
		return []discordgo.MessageComponent{}
	}
	return []discordgo.MessageComponent{discordgo.ActionsRow{Components: buttons}}
}

// buttonLine turns a button's custom_id into the command it stands for.
func buttonLine(customID string) (string, bool) {
	action, ref, ok := strings.Cut(customID, ":")
	if !ok {
		return "", false
	}
	switch action {
	case btnAck, btnDone:
		if n, err := store.ParseID("T", ref); err == nil {
			return "/" + action + " " + store.FormatID("T", n), true
		}
	case btnIncAck:
		if n, err := store.ParseID("INC", ref); err == nil {
			return "/incident ack " + store.FormatID("INC", n), true
		}
	case btnIncClose:
		if n, err := store.ParseID("INC", ref); err == nil {
			return "/incident resolve " + store.FormatID("INC", n) + " " + resolvedNote, true
		}
	case btnCheckin:
		if strings.HasPrefix(ref, "L-") {
			if _, err := store.ParseID("L", ref); err == nil {
				return "/checkin", true
			}
		}
	case btnSafe, btnNeedHelp:
		if n, err := store.ParseID("R", ref); err == nil {
			word := "safe"
			if action == btnNeedHelp {
				word = "help"
			}
			return "/rollcall " + word + " " + store.FormatID("R", n), true
		}
	}
	return "", false
}

func (a *Adapter) personName(id string) string {
	if p, ok := a.cfg().Person(id); ok {
		return p.Name
	}
	return orDash(id)
}

func (a *Adapter) siteName(id string) string {
	if s, ok := a.cfg().Site(id); ok {
		return s.Name
	}
	return orDash(id)
}

// clock formats an instant as the organization reads it.
func (a *Adapter) clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(a.cfg().Location()).Format("15:04 Mon 2 Jan")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clip shortens s to at most n characters, ending with "…" when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// rollCallButtons are Safe and Need help for roll call ref.
func rollCallButtons(ref string) []discordgo.MessageComponent {
	return []discordgo.MessageComponent{
		button("Safe", discordgo.SuccessButton, btnSafe, ref),
		button("Need help", discordgo.DangerButton, btnNeedHelp, ref),
	}
}

// rollCallCard is a person's "Are you safe?": Safe and Need help until
// they answer, then what they answered and when.
func (a *Adapter) rollCallCard(t *store.Task) card {
	e := &discordgo.MessageEmbed{
		Title:       clip(notify.RollCallText(notify.Chat, t.Ref, a.siteName(t.Site), false, t.Drill > 0), maxTitle),
		Color:       colourSev1,
		Footer:      &discordgo.MessageEmbedFooter{Text: "muster · " + a.cfg().Organization},
		Description: "Not answered yet",
	}
	var buttons []discordgo.MessageComponent
	switch t.Status {
	case store.TaskOpen, store.TaskUnanswered:
		buttons = rollCallButtons(t.Ref)
	case store.AnswerSafe:
		e.Description, e.Color = "You answered SAFE at "+a.clock(t.AckedAt), colourClosed
	case store.AnswerHelp:
		e.Description = "You answered NEED HELP at " + a.clock(t.AckedAt) + ": control and your supervisor are paged"
	default:
		e.Description, e.Color = "Roll call over", colourCancel
	}
	return card{embed: e, components: rows(buttons)}
}

// tallyCard is a roll call's live tally, edited as answers come.
func (a *Adapter) tallyCard(rc *store.RollCall, people []store.RollCallPerson) card {
	text := notify.TallyText(a.cfg(), rc, people, a.cfg().Location())
	head, rest, _ := strings.Cut(text, "\n")
	colour := colourSev2
	switch {
	case rc.Help > 0:
		colour = colourSev1
	case rc.Pending() == 0:
		colour = colourClosed
	}
	e := &discordgo.MessageEmbed{Title: clip(head, maxTitle), Description: clip(rest, maxEmbedDesc), Color: colour,
		Footer: &discordgo.MessageEmbedFooter{Text: "muster · " + a.cfg().Organization}}
	var buttons []discordgo.MessageComponent
	if rc.Status == store.RollCallOpen {
		buttons = rollCallButtons(rc.ID())
	}
	return card{embed: e, components: rows(buttons)}
}
