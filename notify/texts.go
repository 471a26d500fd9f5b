package notify

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/muster-ops/muster/store"
)

// DrillPrefix starts every outbound message of a drill.
const DrillPrefix = "DRILL — "

// SMSLimit is one GSM-7 segment.
const SMSLimit = 160

// TaskText is what a task notice says on a channel. site is the site's
// display name; drill prefixes DRILL —. SMS texts fit one 160-character
// segment where they can (the title is shortened, never the id or the
// reply instruction) and never carry anyone's phone number.
func TaskText(channel string, t *store.Task, site string, drill bool) string {
	var s string
	n := strconv.FormatInt(t.Num, 10)
	switch channel {
	case SMS:
		head := t.ID() + " " + site + ": "
		tail := " Reply ACK " + n
		if drill {
			head = DrillPrefix + head
		}
		room := SMSLimit - utf8.RuneCountInString(head) - utf8.RuneCountInString(tail)
		return head + fit(t.Title, room) + tail
	case Voice:
		s = fmt.Sprintf("This is muster. Task %s at %s: %s.", n, site, t.Title)
	default:
		s = fmt.Sprintf("%s %s at %s: %s. Acknowledge with /ack %s", t.ID(), planTitle(t), site, t.Title, t.ID())
	}
	if drill {
		s = DrillPrefix + s
	}
	return s
}

// UnansweredText tells the site and the coordinators that a task's
// escalation ran out.
func UnansweredText(t *store.Task, site, assignee string, drill bool) string {
	s := fmt.Sprintf("%s UNANSWERED at %s: %s (last assigned to %s). Someone must take it: /ack %s", t.ID(), site, t.Title, assignee, t.ID())
	if drill {
		s = DrillPrefix + s
	}
	return s
}

func planTitle(t *store.Task) string {
	if t.Plan == "" {
		return "task"
	}
	return "(" + t.Plan + ")"
}

// fit shortens s to at most n characters, ending with "…" when cut.
func fit(s string, n int) string {
	if n <= 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
