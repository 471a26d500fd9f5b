package twilio_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/muster-ops/muster/notify/twilio"
)

// TwiML documents come from twilio-go's twiml package: text a person
// typed is escaped, characters XML cannot carry are dropped, and the
// document parses.
func TestTwiMLEscapesWhatPeopleType(t *testing.T) {
	hostile := "</Say><Redirect>https://evil.example</Redirect> & \"quotes\" 'too' \x00\x07 end"
	doc := twilio.TwiML(twilio.Gather("https://muster.example.com/twilio/voice/gather?task=T-1&x=\"", 10,
		twilio.Say(hostile)), twilio.Say("Goodbye."))
	if strings.Contains(doc, "<Redirect>") || strings.ContainsAny(doc, "\x00\x07") {
		t.Fatalf("hostile text was not escaped: %s", doc)
	}
	var parsed struct {
		XMLName xml.Name `xml:"Response"`
		Gather  struct {
			Action    string `xml:"action,attr"`
			NumDigits string `xml:"numDigits,attr"`
			Timeout   string `xml:"timeout,attr"`
			Method    string `xml:"method,attr"`
			Input     string `xml:"input,attr"`
			Say       []string
		}
		Say []string
	}
	if err := xml.Unmarshal([]byte(doc), &parsed); err != nil {
		t.Fatalf("%v in %s", err, doc)
	}
	g := parsed.Gather
	if g.Action != "https://muster.example.com/twilio/voice/gather?task=T-1&x=\"" || g.NumDigits != "1" ||
		g.Timeout != "10" || g.Method != "POST" || g.Input != "dtmf" {
		t.Fatalf("gather = %+v", g)
	}
	if len(g.Say) != 1 || g.Say[0] != strings.NewReplacer("\x00", "", "\x07", "").Replace(hostile) {
		t.Fatalf("gather says %q", g.Say)
	}
	if len(parsed.Say) != 1 || parsed.Say[0] != "Goodbye." {
		t.Fatalf("then says %q", parsed.Say)
	}
	if got := twilio.TwiML(twilio.Message("ran status")); got != `<?xml version="1.0" encoding="UTF-8"?><Response><Message>ran status</Message></Response>` {
		t.Fatalf("an SMS answer is %s", got)
	}
	t.Log(twilio.TwiML())
}
