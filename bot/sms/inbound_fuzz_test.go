package sms

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// FuzzInboundSMS posts correctly signed inbound texts whose From and Body
// are fuzzed to POST /twilio/sms, with the real commands on one store
// where both sites have open tasks. Every text is answered 200 with one
// well-formed TwiML document; by SMS nobody can raise an incident or
// trigger a plan; and a task changes only when its own assignee (or an
// earlier one) sent the text: never a stranger, never another site's
// guard.
func FuzzInboundSMS(f *testing.F) {
	const public = "https://muster.example.com"
	cfg, err := configs.Example()
	if err != nil {
		f.Fatal(err)
	}
	st := storetest.Open(f, nil)
	svc := commands.New(commands.Options{Config: cfg, Store: st})
	ctx := context.Background()
	for _, site := range []string{"harbour", "depot"} {
		if r := svc.Handle(ctx, commands.Request{Platform: commands.PlatformConsole, UserID: "jonah", Text: "/plan trigger medical-emergency @" + site}); r.Error {
			f.Fatal(r.Text)
		}
	}
	h, err := New(Options{Config: cfg, Commands: svc, Store: st, AuthToken: exampleToken, PublicURL: public})
	if err != nil {
		f.Fatal(err)
	}
	handler := h.SMS()
	nums := []int64{1, 2, 3, 4, 5, 6}
	latest := func(t *testing.T) int64 {
		a, err := st.LatestActivation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return a.Num
	}
	tasks := func(t *testing.T) []*store.Task {
		ts, err := st.Tasks(ctx, nums)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}

	phones := []string{"+447700900101", "+447700900104", "+447700900110", "+15005550006", "", "+447700900101 ", "00447700900101"}
	for i, body := range []string{
		"ACK", "ACK 3", "ACK 6", "DONE 3", "done t-4", "STATUS", "HELP", "STOP", "start", "ACK 3 on my way",
		"ACK '; DROP TABLE incidents;--", "$(rm -rf /)", "ACK T-</Message><Say>x</Say>", "ACK <!channel> @everyone",
		"\x00ACK\xff 3", "\"\x00", "ACK 99999999999999999999", strings.Repeat("ACK ", 600),
		"/incident raise fire @harbour smoke", "/plan trigger fire-evacuation @depot", "INCIDENT RAISE FIRE", "",
	} {
		f.Add(phones[i%len(phones)], body)
	}
	// A supervisor acking another's task with a reason: chat allows it,
	// SMS must not.
	f.Add("+447700900110", "ACK 6 covering for Dev")
	f.Fuzz(func(t *testing.T, from, body string) {
		before := tasks(t)
		form := url.Values{"AccountSid": {"AC0"}, "From": {from}, "To": {cfg.Twilio.From}, "Body": {body}, "MessageSid": {"SM0"}}
		r := httptest.NewRequest(http.MethodPost, "/twilio/sms", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Twilio-Signature", TwilioSignature(exampleToken, public+"/twilio/sms", form))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/xml") {
			t.Fatalf("HTTP %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		var doc struct {
			XMLName xml.Name `xml:"Response"`
			Message []string `xml:"Message"`
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil || len(doc.Message) > 1 {
			t.Fatalf("not one well-formed TwiML answer (%v): %s", err, w.Body)
		}
		list, err := st.ListIncidents(ctx, store.IncidentFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 0 || latest(t) != 2 {
			t.Fatalf("an SMS %q raised an incident or triggered a plan", body)
		}
		p, known := cfg.PersonByPhone(from)
		for i, after := range tasks(t) {
			if after.Status == before[i].Status {
				continue
			}
			if !known || (after.Assignee != p.ID && !after.WasAssigned(p.ID)) {
				t.Fatalf("%q from %q moved %s (%s's) from %s to %s", body, from, after.ID(), after.Assignee, before[i].Status, after.Status)
			}
		}
	})
}
