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
		{"/incident raise fire @harbour Smoke in B", Command{"incident", []string{"raise", "fire", "@harbour", "Smoke", "in", "B"}}},
		{"ACK T-3", Command{"ack", []string{"T-3"}}},
		{`/incident raise theft "laptop taken   from desk"`, Command{"incident", []string{"raise", "theft", "laptop taken   from desk"}}},
		{"/incident update INC-1 “guard on scene”", Command{"incident", []string{"update", "INC-1", "guard on scene"}}},
		{"/incident update INC-1 don't panic", Command{"incident", []string{"update", "INC-1", "don't", "panic"}}},
		{`/incident update INC-1 "unclosed quote here`, Command{"incident", []string{"update", "INC-1", "unclosed quote here"}}},
		{"/muster\thelp", Command{"muster", []string{"help"}}},
		{"/incident raise other sev1 Ωμέγα 火事", Command{"incident", []string{"raise", "other", "sev1", "Ωμέγα", "火事"}}},
		{"/incident raise other a\x00b \xff", Command{"incident", []string{"raise", "other", "a\uFFFDb", "\uFFFD"}}},
		{`""`, Command{"", nil}},
	} {
		got := Parse(tc.in)
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
