package discord

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
)

// data decodes an application command's data as Discord sends it.
func data(t *testing.T, raw string) discordgo.ApplicationCommandInteractionData {
	t.Helper()
	var d discordgo.ApplicationCommandInteractionData
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCommandLine(t *testing.T) {
	sub := func(cmd, sub, opts string) string {
		return `{"name":"` + cmd + `","type":1,"options":[{"type":1,"name":"` + sub + `","options":[` + opts + `]}]}`
	}
	o := func(name, value string) string {
		return `{"type":3,"name":"` + name + `","value":` + jsonString(value) + `}`
	}
	tests := []struct {
		name, data, want string
		site             string // the channel's site
	}{
		{"raise, options in Discord's order", sub("incident", "raise", o("text", "smoke")+","+o("site", "harbour")+","+o("category", "fire")), "/incident raise fire @harbour smoke", ""},
		{"raise with severity", sub("incident", "raise", o("category", "fire")+","+o("text", "smoke")+","+o("severity", "sev1")), "/incident raise fire sev1 smoke", ""},
		{"text with mentions stays one argument", sub("incident", "raise", o("category", "fire")+","+o("text", "<!channel> @everyone <@U123>")), `/incident raise fire "<!channel> @everyone <@U123>"`, ""},
		{"text with a double quote", sub("incident", "update", o("incident", "INC-3")+","+o("text", `"@depot" is wrong`)), `/incident update INC-3 “"@depot" is wrong”`, ""},
		{"text that starts like a severity", sub("incident", "raise", o("category", "fire")+","+o("text", "sev1 looking")), `/incident raise fire "sev1 looking"`, ""},
		{"site given with its @", sub("plan", "trigger", o("plan", "fire-evacuation")+","+o("site", "@depot")+","+o("note", "alarm in B")), "/plan trigger fire-evacuation @depot alarm in B", ""},
		{"roster show has no word", sub("roster", "show", o("when", "next")+","+o("site", "harbour")), "/roster @harbour next", ""},
		{"roster show alone", sub("roster", "show", ""), "/roster", ""},
		{"subcommand without options", sub("muster", "whoami", ""), "/muster whoami", ""},
		{"ack without options", `{"name":"ack","type":1}`, "/ack", ""},
		{"ack with task and note", `{"name":"ack","type":1,"options":[` + o("note", "on my way") + "," + o("task", "T-3") + `]}`, "/ack T-3 on my way", ""},
		{"a one-word option with spaces stays one word", `{"name":"done","type":1,"options":[` + o("task", "T 3") + `]}`, `/done "T 3"`, ""},
		{"the channel's site is written out", sub("plan", "trigger", o("plan", "fire-evacuation")+","+o("note", "@everyone out")), `/plan trigger fire-evacuation @harbour "@everyone out"`, "harbour"},
		{"a given site wins over the channel's", sub("incident", "raise", o("category", "fire")+","+o("text", "smoke")+","+o("site", "depot")), "/incident raise fire @depot smoke", "harbour"},
		{"a filter is not defaulted", sub("incident", "list", ""), "/incident list", "harbour"},
		{"nor is the roster's site", sub("roster", "show", ""), "/roster", "harbour"},
		{"an action, options in Discord's order", sub("action", "add", o("text", "Replace the lock on gate B")+","+o("for", "INC-4")+","+o("due", "14d")+","+o("owner", "ben")),
			"/action add INC-4 ben 14d Replace the lock on gate B", ""},
		{"an action verified", sub("action", "verify", o("note", "no repeat since")+","+o("verdict", "effective")+","+o("action", "CA-3")), "/action verify CA-3 effective no repeat since", ""},
		{"actions listed", sub("action", "list", o("site", "depot")+","+o("which", "overdue")), "/action list overdue @depot", ""},
		{"check-ins with a length", sub("checkin", "start", o("note", "yard patrol")+","+o("site", "depot")+","+o("for", "4h")+","+o("every", "15m")),
			"/checkin start 15m for 4h @depot yard patrol", ""},
		{"check-ins until the shift ends", sub("checkin", "start", o("every", "30m")), "/checkin start 30m", ""},
		{"a cover with an override", sub("roster", "cover", o("override", "nobody else on site")+","+o("roster", "harbour-guard")+","+o("person", "ben")+","+o("from", "now")+","+o("to", "4h")),
			"/roster cover harbour-guard ben now 4h --override nobody else on site", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := commandLine(data(t, tt.data), tt.site)
			if !ok || got != tt.want {
				t.Fatalf("commandLine = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
	for _, bad := range []string{`{"name":"unknown","type":1}`, sub("incident", "explode", ""), `{"name":"incident","type":1}`} {
		if got, ok := commandLine(data(t, bad), ""); ok {
			t.Errorf("commandLine(%s) = %q, want refused", bad, got)
		}
	}
}

// Free text reaches the command as one argument, exactly as typed (when
// every kind of quote is in it, " becomes ').
func TestQuotedTextParsesBack(t *testing.T) {
	allQuotes := `“curly” and "straight" and «guillemets» and 'single' and ‘single curly’`
	tests := map[string]string{
		"<!channel> @everyone <@U123>": "<!channel> @everyone <@U123>",
		`she said "@harbour" twice`:    `she said "@harbour" twice`,
		"sev2 is what it looks like":   "sev2 is what it looks like",
		"plain text":                   "plain text",
		allQuotes:                      strings.ReplaceAll(allQuotes, `"`, "'"),
	}
	for text, want := range tests {
		line := "/incident update INC-3 " + quoteIfNeeded(text, true)
		c := commands.Parse(line)
		if len(c.Args) < 3 {
			t.Fatalf("%q -> %q -> %q", text, line, c.Args)
		}
		if got := strings.Join(c.Args[2:], " "); got != want {
			t.Errorf("%q -> %q -> %q, want %q", text, line, got, want)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestButtonLine(t *testing.T) {
	tests := map[string]string{
		"ack:T-3":       "/ack T-3",
		"done:t-3":      "/done T-3",
		"incack:INC-3":  "/incident ack INC-3",
		"resolve:INC-3": "/incident resolve INC-3 resolved from Discord",
		"checkin:L-2":   "/checkin",
		"checkin:T-2":   "",
		"safe:R-4":      "/rollcall safe R-4",
		"rchelp:r-4":    "/rollcall help R-4",
		"ack:INC-3":     "",
		"resolve:T-3":   "",
		"ack:T-3 x":     "",
		"nuke:T-3":      "",
		"ack":           "",
	}
	for id, want := range tests {
		got, ok := buttonLine(id)
		if ok != (want != "") || got != want {
			t.Errorf("buttonLine(%q) = %q, %v; want %q", id, got, ok, want)
		}
	}
}

// Every choice list fits Discord's limits for the example organization.
func TestApplicationCommandsFitDiscord(t *testing.T) {
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ApplicationCommands(cfg) {
		if len(c.Description) == 0 || len(c.Description) > 100 || len(c.Options) > 25 {
			t.Errorf("%s: description or options out of bounds", c.Name)
		}
	}
}
