package notify

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/muster-ops/muster/store"
)

// DrillPrefix starts every outbound message of a drill.
const DrillPrefix = "DRILL — "

// SMSDrillPrefix starts every SMS of a drill: the same "DRILL — " as on
// every other channel, because responders and the drill record must see
// one unmistakable marker. The em dash is not in the GSM-7 alphabet, so a
// drill SMS is sent as UCS-2 and fitted to one 70-character segment (the
// title is shortened, never the id or the reply instruction). Live SMS
// stay GSM-7 with 160 characters.
const SMSDrillPrefix = DrillPrefix

// SMSLimit is one GSM-7 segment, in septets.
const SMSLimit = 160

// SMSLimitUCS2 is one UCS-2 segment, in UTF-16 code units: the limit when
// a text has a character GSM-7 cannot carry.
const SMSLimitUCS2 = 70

// TaskText is what a task notice says on a channel. site is the site's
// display name; drill prefixes DRILL —. SMS texts are GSM-7 and fit one
// 160-character segment where they can (the title is shortened, never the
// id or the reply instruction) and never carry a phone number.
func TaskText(channel string, t *store.Task, site string, drill bool) string {
	var s string
	n := strconv.FormatInt(t.Num, 10)
	switch channel {
	case SMS:
		head := t.ID() + " " + SMSText(site) + ": "
		tail := " Reply ACK " + n
		if drill {
			head = SMSDrillPrefix + head
		}
		title := SMSText(t.Title)
		limit := SMSLimit
		if _, ok := GSM7Len(head + title + tail); !ok {
			limit = SMSLimitUCS2
		}
		return head + fitSMS(title, limit-smsLen(head)-smsLen(tail)) + tail
	case Voice:
		s = fmt.Sprintf("This is muster. Task %s at %s: %s.", n, site, redactPhones(t.Title))
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

// SMSText prepares any text for SMS: phone numbers are removed, the drill
// prefix and typographic characters (dashes, curly quotes, ellipses,
// accented letters GSM-7 lacks) become their GSM-7 look-alikes, so the
// text stays in GSM-7 whenever it can. The SMS notifier applies it to
// every body, so texts written for chat (UnansweredText) go out as GSM-7
// too.
func SMSText(s string) string {
	s = redactPhones(s)
	var b strings.Builder
	if rest, ok := strings.CutPrefix(s, DrillPrefix); ok {
		// The drill marker is kept as it is; the rest becomes GSM-7.
		b.WriteString(SMSDrillPrefix)
		s = rest
	}
	for _, r := range s {
		if isGSM7(r) {
			b.WriteRune(r)
			continue
		}
		if t, ok := gsm7Lookalike[r]; ok {
			b.WriteString(t)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// GSM7Len is the length of s in GSM-7 septets (characters of the
// extension table count two), and whether every character of s is in
// GSM-7 at all.
func GSM7Len(s string) (int, bool) {
	n, ok := 0, true
	for _, r := range s {
		switch {
		case strings.ContainsRune(gsm7Ext, r):
			n += 2
		case isGSM7(r):
			n++
		default:
			ok = false
			n++
		}
	}
	return n, ok
}

// SMSSegments is how many segments s takes: GSM-7 when it can be, else
// UCS-2 (a multi-part message loses 7 septets or 3 units a part to its
// header).
func SMSSegments(s string) int {
	if n, ok := GSM7Len(s); ok {
		if n <= SMSLimit {
			return 1
		}
		return (n + 152) / 153
	}
	n := len(utf16.Encode([]rune(s)))
	if n <= SMSLimitUCS2 {
		return 1
	}
	return (n + 66) / 67
}

// smsLen is the length of s in the unit of its encoding: septets for
// GSM-7, UTF-16 units otherwise.
func smsLen(s string) int {
	if n, ok := GSM7Len(s); ok {
		return n
	}
	return len(utf16.Encode([]rune(s)))
}

// fitSMS shortens s to at most n units of its encoding, ending with "..."
// when cut.
func fitSMS(s string, n int) string {
	if smsLen(s) <= n {
		return s
	}
	if n <= 3 {
		return ""
	}
	r := []rune(s)
	for len(r) > 0 && smsLen(string(r))+3 > n {
		r = r[:len(r)-1]
	}
	return strings.TrimSpace(string(r)) + "..."
}

// phoneLike finds phone numbers: a "+" or digit, then at least seven more
// digits, possibly grouped by spaces, dots, dashes or brackets.
var phoneLike = regexp.MustCompile(`\+?\(?[0-9][0-9 ().\-]{6,}[0-9]`)

// redactPhones removes anything that looks like a phone number (eight
// digits or more), so no message ever carries someone's number.
func redactPhones(s string) string {
	return phoneLike.ReplaceAllStringFunc(s, func(m string) string {
		digits := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits < 8 {
			return m
		}
		return "[number]"
	})
}

// gsm7Basic is the GSM 03.38 default alphabet (without the escape).
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7Ext is the GSM 03.38 extension table: each costs two septets.
const gsm7Ext = "^{}\\[~]|€\f"

func isGSM7(r rune) bool {
	return strings.ContainsRune(gsm7Basic, r) || strings.ContainsRune(gsm7Ext, r)
}

// gsm7Lookalike maps characters outside GSM-7 that commonly appear in
// names and titles to the nearest GSM-7 text.
var gsm7Lookalike = map[rune]string{
	'—': "-", '–': "-", '‐': "-", '‑': "-", '−': "-", '‘': "'", '’': "'", '‚': "'", '′': "'",
	'“': "\"", '”': "\"", '„': "\"", '″': "\"", '«': "\"", '»': "\"", '…': "...", '•': "-", '·': ".",
	'\u00a0': " ", '\u2009': " ", '\u202f': " ", '\t': " ",
	'á': "a", 'â': "a", 'ã': "a", 'ā': "a", 'ą': "a", 'À': "A", 'Á': "A", 'Â': "A", 'Ã': "A",
	'ç': "c", 'ć': "c", 'č': "c", 'Ć': "C", 'Č': "C",
	'ê': "e", 'ë': "e", 'ē': "e", 'ę': "e", 'ě': "e", 'È': "E", 'Ê': "E", 'Ë': "E",
	'í': "i", 'î': "i", 'ï': "i", 'ı': "i", 'Ì': "I", 'Í': "I", 'Î': "I", 'Ï': "I",
	'ó': "o", 'ô': "o", 'õ': "o", 'ō': "o", 'ő': "o", 'Ò': "O", 'Ó': "O", 'Ô': "O", 'Õ': "O",
	'ú': "u", 'û': "u", 'ū': "u", 'ű': "u", 'ů': "u", 'Ù': "U", 'Ú': "U", 'Û': "U",
	'ý': "y", 'ÿ': "y", 'Ý': "Y", 'ń': "n", 'ň': "n", 'Ń': "N",
	'ś': "s", 'š': "s", 'ş': "s", 'Ś': "S", 'Š': "S", 'Ş': "S", 'ź': "z", 'ż': "z", 'ž': "z", 'Ž': "Z", 'Ż': "Z",
	'ł': "l", 'Ł': "L", 'ř': "r", 'Ř': "R", 'ť': "t", 'ď': "d", 'đ': "d", 'Đ': "D", 'ğ': "g", 'Ğ': "G",
	'œ': "oe", 'Œ': "OE", 'ð': "d", 'þ': "th", 'Þ': "Th",
}
