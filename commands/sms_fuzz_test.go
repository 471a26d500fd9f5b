package commands

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/storetest"
)

// FuzzSMSHandle runs inbound SMS bodies from fuzzed numbers through the
// one command language (Platform sms, the phone as the user id), on one
// store with two running activations. Every text gets one non-empty,
// valid UTF-8 answer, never the panic apology; a number not
// on the roster is always refused.
func FuzzSMSHandle(f *testing.F) {
	cfg, err := configs.Example()
	if err != nil {
		f.Fatal(err)
	}
	st := storetest.Open(f, nil)
	svc := New(Options{Config: cfg, Store: st})
	ctx := context.Background()
	for _, site := range []string{"harbour", "depot"} {
		if r := svc.Handle(ctx, Request{Platform: PlatformConsole, UserID: "jonah", Text: "/plan trigger medical-emergency @" + site}); r.Error {
			f.Fatal(r.Text)
		}
	}
	phones := []string{"+447700900101", "+447700900110", "+447700900104", "+15005550006", "", "447700900101", "+44 7700 900101", "+447700900101\x00"}
	for i, body := range []string{
		"ACK", "ACK 3", "ack t-3", "ACK T-6", "DONE 3", "DONE", "STATUS", "HELP", "STOP", "START", "Ack 3 on my way",
		"ACK 99999999999999999999", "ACK -1", "ACK 0", "ACK 3.5", "DONE T-", "ACK '; DROP TABLE incidents;--", "$(rm -rf /)",
		"ACK <!channel> @everyone", "\x00ACK\xff 3", "ＡＣＫ　３", "ACK\u202e3", "\"ACK 3", "\"\x00", strings.Repeat("ACK ", 600), "",
		"/plan trigger fire-evacuation @depot", "/incident raise fire @harbour smoke",
	} {
		f.Add(phones[i%len(phones)], body)
	}
	f.Fuzz(func(t *testing.T, phone, body string) {
		r := svc.Handle(ctx, Request{Platform: PlatformSMS, UserID: phone, Text: body})
		if r.Text == "" || !utf8.ValidString(r.Text) {
			t.Fatalf("answer %q: empty or invalid UTF-8", r.Text)
		}
		if strings.Contains(r.Text, "internal error") {
			t.Fatalf("%q panicked: %s", body, r.Text)
		}
		// No NUL or control character typed by the sender is echoed
		// back (line breaks inside quotes are folded by fail()).
		for _, c := range r.Text {
			if c == 0 || (c < 0x20 && c != '\n' && c != '\t' && c != '\r') {
				t.Fatalf("answer %q echoes a control character", r.Text)
			}
		}
		// (A text over MaxInput is refused for its length before the
		// sender is looked up.)
		if _, known := cfg.PersonByPhone(phone); !known && (!r.Error || !strings.Contains(r.Text, "roster") && !strings.Contains(r.Text, "at most")) {
			t.Fatalf("unknown number %q got %+v", phone, r)
		}
	})
}
