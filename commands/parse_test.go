package commands

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Command
	}{
		{"", Command{}},
		{"   ", Command{}},
		{"/incident raise fire @harbour Smoke in B", Command{Name: "incident", Args: []string{"raise", "fire", "@harbour", "Smoke", "in", "B"}}},
		{"ACK T-3", Command{Name: "ack", Args: []string{"T-3"}}},
		{`/incident raise theft "laptop taken   from desk"`, Command{Name: "incident", Args: []string{"raise", "theft", "laptop taken   from desk"}}},
		{"/incident update INC-1 “guard on scene”", Command{Name: "incident", Args: []string{"update", "INC-1", "guard on scene"}}},
		{"/incident update INC-1 don't panic", Command{Name: "incident", Args: []string{"update", "INC-1", "don't", "panic"}}},
		{`/incident update INC-1 "unclosed quote here`, Command{Name: "incident", Args: []string{"update", "INC-1", `"unclosed quote here`}}},
		{`/incident update INC-1 '; DROP TABLE incidents;--`, Command{Name: "incident", Args: []string{"update", "INC-1", `'; DROP TABLE incidents;--`}}},
		{"/incident update INC-1 \"nul\x00 and \x07bell\"", Command{Name: "incident", Args: []string{"update", "INC-1", "nul\uFFFD and \uFFFDbell"}}},
		{"/muster\thelp", Command{Name: "muster", Args: []string{"help"}}},
		{"/incident raise other sev1 Ωμέγα 火事", Command{Name: "incident", Args: []string{"raise", "other", "sev1", "Ωμέγα", "火事"}}},
		{"/incident raise other a\x00b \xff", Command{Name: "incident", Args: []string{"raise", "other", "a\uFFFDb", "\uFFFD"}}},
		{`""`, Command{Name: "", Args: nil}},
	} {
		got := Parse(tc.in)
		got.raw, got.spans = "", nil
		if got.Name != tc.want.Name || !reflect.DeepEqual(got.Args, tc.want.Args) && !(len(got.Args) == 0 && len(tc.want.Args) == 0) {
			t.Errorf("Parse(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"/incident raise fire @harbour Smoke", `"a b" 'c d'`, "“x", "/ack", "\x00\xff", "/roster @depot week guard"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Parse(s)
		for _, a := range c.Args {
			if a == "" {
				continue // an empty quoted argument is allowed
			}
		}
		_ = Tokenize(s)
	})
}

func TestRestKeepsTextAsTyped(t *testing.T) {
	for _, tc := range []struct {
		in   string
		from int
		want string
	}{
		{`/incident update INC-1 he shouted "stop" and  ran`, 2, `he shouted "stop" and  ran`},
		{`/incident update INC-1 "all of it quoted"`, 2, `all of it quoted`},
		{`/incident raise theft van seen heading to @depot`, 2, `van seen heading to @depot`},
		{"/incident update INC-1 bad\x00byte \xff here", 2, "bad\uFFFDbyte \uFFFD here"},
		{`/incident update INC-1`, 2, ``},
	} {
		if got := Parse(tc.in).Rest(tc.from); got != tc.want {
			t.Errorf("Parse(%q).Rest(%d) = %q, want %q", tc.in, tc.from, got, tc.want)
		}
	}
}
