package commands

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxInput is the longest command muster accepts, in characters.
const MaxInput = 2000

// Command is one parsed line: "/incident raise fire @harbour Smoke" is
// Name "incident", Args ["raise", "fire", "@harbour", "Smoke"].
type Command struct {
	Name string
	Args []string
	// raw is the line and spans[i] where Args[i] starts in it, so free
	// text can be taken as typed (inner quotes and spacing kept).
	raw   string
	spans []int
}

// Rest is the free text from Args[i] to the end of the line, as typed:
// quotes inside it and its spacing are kept; quotes wrapping the whole
// text are removed; control characters and invalid UTF-8 become U+FFFD.
func (c Command) Rest(i int) string {
	if i >= len(c.Args) {
		return ""
	}
	if i == len(c.Args)-1 {
		return c.Args[i]
	}
	return strings.TrimSpace(clean(c.raw[c.spans[i]:]))
}

// clean replaces what must not reach records or chat: invalid UTF-8, NUL
// and control characters other than tab and line breaks.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r == 0 || (unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r') {
			return '\uFFFD'
		}
		return r
	}, s)
}

// Parse splits a command line into its name and arguments. The leading
// slash is optional ("ack T-3" works as well as "/ack T-3"), names are
// case-insensitive, and text in straight or curly quotes stays one
// argument. It never fails: an empty line gives an empty Name.
func Parse(line string) Command {
	toks, spans := tokenize(line)
	if len(toks) == 0 {
		return Command{}
	}
	name := strings.ToLower(strings.TrimPrefix(toks[0], "/"))
	return Command{Name: name, Args: toks[1:], raw: line, spans: spans[1:]}
}

// closing maps each opening quote to the quote that closes it.
var closing = map[rune]rune{'"': '"', '\'': '\'', '“': '”', '‘': '’', '„': '“', '«': '»'}

// Tokenize splits on whitespace, keeping quoted text together. A quote
// only opens a group at the start of a word, so apostrophes in "don't"
// are text; an unclosed quote runs to the end of the line.
func Tokenize(line string) []string {
	toks, _ := tokenize(line)
	return toks
}

// tokenize is Tokenize that also says where each token starts.
func tokenize(line string) ([]string, []int) {
	var (
		spans  []int
		start  int
		toks   []string
		cur    strings.Builder
		inTok  bool
		quote  rune // closing quote while inside a group, else 0
		opened rune // the quote that opened the group
	)
	flush := func() {
		if inTok {
			toks = append(toks, cur.String())
			spans = append(spans, start)
		}
		cur.Reset()
		inTok = false
	}
	for i, r := range line {
		if !inTok && quote == 0 {
			start = i
		}
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
				continue
			}
			cur.WriteRune(safeRune(r, true))
		case unicode.IsSpace(r):
			flush()
		case !inTok && closing[r] != 0:
			quote, opened = closing[r], r
			inTok = true
		default:
			cur.WriteRune(safeRune(r, false))
			inTok = true
		}
	}
	if quote != 0 {
		// A quote that never closes was text, not a group: keep it
		// ("'; DROP TABLE" stays as typed).
		rest := cur.String()
		cur.Reset()
		cur.WriteRune(opened)
		cur.WriteString(rest)
	}
	flush()
	return toks, spans
}

// safeRune replaces invalid UTF-8, NUL and control characters with
// U+FFFD; inside quotes, line breaks and tabs are kept as typed.
func safeRune(r rune, quoted bool) rune {
	if r == '\t' || (quoted && (r == '\n' || r == '\r')) {
		return r
	}
	if r == utf8.RuneError || r == 0 || unicode.IsControl(r) {
		return '\uFFFD'
	}
	return r
}
