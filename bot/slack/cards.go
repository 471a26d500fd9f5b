package slack

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// Action ids of the buttons muster puts on its cards. The button's value
// is the record's id (INC-4, T-17).
const (
	ActionAck     = "muster_ack"
	ActionResolve = "muster_resolve"
	// ActionSafe and ActionHelp answer a roll call (value R-n).
	ActionSafe = "muster_safe"
	ActionHelp = "muster_help"
	// ActionCheckin checks in on a lone-worker session (value L-n).
	ActionCheckin = "muster_checkin"
)

// Escape makes text safe to show in a Slack message: &, < and > become
// entities, so a guard who types <!channel>, <!here> or <@U123> shows
// those characters instead of pinging anyone. Everything muster sends that
// holds text a person typed goes through Escape; the only real mentions in
// muster's messages are the ones it builds itself (mention).
func Escape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return escaper.Replace(s)
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// mention is muster's own mention of a person: a live <@U...> when the
// config has their Slack id, their escaped name otherwise.
func mention(cfg *configs.Config, personID string) string {
	p, ok := cfg.Person(personID)
	if !ok {
		return Escape(personID)
	}
	if p.Slack != "" && isSlackID(p.Slack) {
		return "<@" + p.Slack + ">"
	}
	return Escape(p.Name)
}

// isSlackID accepts what Slack user ids look like (U0ABC123, W0...), so a
// config typo cannot smuggle markup into a mention.
func isSlackID(id string) bool {
	if len(id) < 2 || (id[0] != 'U' && id[0] != 'W') {
		return false
	}
	for _, r := range id {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// card is one rendered message: the notification text and the blocks.
type card struct {
	text   string
	blocks []slack.Block
}

// mrkdwn is a mrkdwn text object with verbatim on, so Slack does not turn
// bare words like @channel, #channel or URLs into live references; only
// explicit <...> syntax that muster wrote itself is special.
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// textCard is a plain message: one section of escaped text.
func textCard(text string) card {
	t := Escape(text)
	return card{text: t, blocks: []slack.Block{slack.NewSectionBlock(mrkdwn(t), nil, nil)}}
}

func personName(cfg *configs.Config, id string) string {
	if p, ok := cfg.Person(id); ok {
		return p.Name
	}
	return id
}

func siteName(cfg *configs.Config, id string) string {
	if s, ok := cfg.Site(id); ok {
		return s.Name
	}
	return id
}

// incidentCard renders an incident as it stands: site, severity,
// category, text, reporter and status, with Acknowledge while it is open
// and Resolve until it is resolved.
func incidentCard(cfg *configs.Config, inc *store.Incident) card {
	id := inc.ID()
	site := Escape(siteName(cfg, inc.Site))
	head := fmt.Sprintf("*%s* · %s %s at %s", id, Escape(inc.Severity), Escape(inc.Category), site)
	status := incidentStatus(cfg, inc)
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(head), nil, nil, slack.SectionBlockOptionBlockID("head")),
		slack.NewSectionBlock(nil, []*slack.TextBlockObject{
			mrkdwn("*Site*\n" + site),
			mrkdwn("*Severity*\n" + Escape(inc.Severity)),
			mrkdwn("*Category*\n" + Escape(inc.Category)),
			mrkdwn("*Reporter*\n" + Escape(personName(cfg, inc.Reporter))),
			mrkdwn("*Status*\n" + status),
		}, nil, slack.SectionBlockOptionBlockID("fields")),
		slack.NewSectionBlock(mrkdwn(Escape(inc.Text)), nil, nil, slack.SectionBlockOptionBlockID("text")),
	}
	var buttons []slack.BlockElement
	if inc.Status == store.StatusOpen {
		buttons = append(buttons, button(ActionAck, id, "Acknowledge", slack.StylePrimary))
	}
	if inc.Status != store.StatusResolved {
		buttons = append(buttons, button(ActionResolve, id, "Resolve", slack.StyleDanger))
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock("actions", buttons...))
	}
	text := fmt.Sprintf("%s %s %s at %s: %s (%s)", id, Escape(inc.Severity), Escape(inc.Category), site, Escape(inc.Text), plainStatus(inc.Status))
	return card{text: text, blocks: blocks}
}

func incidentStatus(cfg *configs.Config, inc *store.Incident) string {
	switch inc.Status {
	case store.StatusAcknowledged:
		return "Acknowledged by " + Escape(personName(cfg, inc.AckedBy)) + at(cfg, inc.AckedAt)
	case store.StatusResolved:
		s := "Resolved by " + Escape(personName(cfg, inc.ResolvedBy)) + at(cfg, inc.ResolvedAt)
		if inc.Summary != "" {
			s += ": " + Escape(inc.Summary)
		}
		return s
	}
	return "Open"
}

// taskCard renders a task notice: what to do, where, for whom (a real
// mention of the assignee, muster's own), its status, and Acknowledge
// while nobody has.
func taskCard(cfg *configs.Config, t *store.Task) card {
	switch t.Kind {
	case store.KindRollCall:
		return rollCallCard(cfg, t)
	case store.KindCheckin:
		return checkinCard(cfg, t)
	}
	id := t.ID()
	site := Escape(siteName(cfg, t.Site))
	prefix := ""
	if t.Drill > 0 {
		prefix = "DRILL — "
	}
	plan := ""
	if t.Plan != "" {
		plan = " (" + Escape(t.Plan) + ")"
	}
	head := fmt.Sprintf("%s*%s*%s at %s: %s", prefix, id, plan, site, Escape(t.Title))
	status := taskStatus(cfg, t)
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(head), nil, nil, slack.SectionBlockOptionBlockID("head")),
		slack.NewSectionBlock(nil, []*slack.TextBlockObject{
			mrkdwn("*Assigned to*\n" + mention(cfg, t.Assignee)),
			mrkdwn("*Status*\n" + status),
		}, nil, slack.SectionBlockOptionBlockID("fields")),
	}
	if t.Status == store.TaskOpen || t.Status == store.TaskUnanswered {
		blocks = append(blocks, slack.NewActionBlock("actions", button(ActionAck, id, "Acknowledge", slack.StylePrimary)))
	}
	text := fmt.Sprintf("%s%s%s at %s: %s (%s)", prefix, id, plan, site, Escape(t.Title), plainStatus(t.Status))
	return card{text: text, blocks: blocks}
}

func taskStatus(cfg *configs.Config, t *store.Task) string {
	switch t.Status {
	case store.TaskAcknowledged:
		s := "Acknowledged by " + Escape(personName(cfg, t.AckedBy)) + at(cfg, t.AckedAt)
		if t.AckNote != "" {
			s += ": " + Escape(t.AckNote)
		}
		return s
	case store.TaskDone:
		return "Done by " + Escape(personName(cfg, t.DoneBy)) + at(cfg, t.DoneAt)
	case store.TaskUnanswered:
		return "UNANSWERED: someone must take it"
	case store.TaskOpen:
		return "Open: waiting for acknowledgement"
	}
	return plainStatus(t.Status)
}

func plainStatus(s string) string {
	if s == "" {
		return "open"
	}
	return strings.ReplaceAll(s, "_", " ")
}

// at is " at 10:02" in the organization's zone, or "" for a zero time.
func at(cfg *configs.Config, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " at " + t.In(cfg.Location()).Format("15:04")
}

func button(actionID, value, label string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, value, plain(label))
	b.Style = style
	return b
}

// rollCallCard is a person's "Are you safe?" in their DMs: Safe and Need
// help until they answer, then what they answered and when.
func rollCallCard(cfg *configs.Config, t *store.Task) card {
	text := Escape(notify.RollCallText(notify.Chat, t.Ref, siteName(cfg, t.Site), false, t.Drill > 0))
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil, slack.SectionBlockOptionBlockID("head"))}
	switch t.Status {
	case store.TaskOpen, store.TaskUnanswered:
		blocks = append(blocks, slack.NewActionBlock("actions",
			button(ActionSafe, t.Ref, "Safe", slack.StylePrimary),
			button(ActionHelp, t.Ref, "Need help", slack.StyleDanger)))
	case store.AnswerSafe, store.AnswerHelp:
		ans := "You answered *SAFE*"
		if t.Status == store.AnswerHelp {
			ans = "You answered *NEED HELP*: control and your supervisor are paged"
		}
		blocks = append(blocks, slack.NewContextBlock("answer", mrkdwn(ans+at(cfg, t.AckedAt))))
		text += " (" + t.Status + ")"
	}
	return card{text: text, blocks: blocks}
}

// tallyCard is a roll call's live tally in a site channel or the
// starter's DMs: edited as answers come, at most once a second.
func tallyCard(cfg *configs.Config, rc *store.RollCall, people []store.RollCallPerson) card {
	text := notify.TallyText(cfg, rc, people, cfg.Location())
	head, rest, _ := strings.Cut(text, "\n")
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn("*"+Escape(head)+"*"), nil, nil, slack.SectionBlockOptionBlockID("head"))}
	if rest != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(Escape(rest)), nil, nil, slack.SectionBlockOptionBlockID("tally")))
	}
	if rc.Status == store.RollCallOpen {
		blocks = append(blocks, slack.NewActionBlock("actions",
			button(ActionSafe, rc.ID(), "Safe", slack.StylePrimary),
			button(ActionHelp, rc.ID(), "Need help", slack.StyleDanger)))
	}
	return card{text: Escape(text), blocks: blocks}
}

// checkinCard is a lone worker's missed check-in reminder: Check in while
// the session runs.
func checkinCard(cfg *configs.Config, t *store.Task) card {
	text := Escape(notify.CheckinReminderText(notify.Chat, t.Ref, siteName(cfg, t.Site), t.Drill > 0))
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil, slack.SectionBlockOptionBlockID("head"))}
	if t.Status == store.TaskOpen || t.Status == store.TaskUnanswered {
		blocks = append(blocks, slack.NewActionBlock("actions", button(ActionCheckin, t.Ref, "Check in", slack.StylePrimary)))
	}
	return card{text: text, blocks: blocks}
}
