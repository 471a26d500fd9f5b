package slack

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Slack's worked example from "Verifying requests from Slack"
// (https://api.slack.com/authentication/verifying-requests-from-slack).
// The body's token is the one printed in Slack's docs, xyzz0WbapA4vBCDEFasx0q6G;
// only with that body does the published signature come out.
const (
	exampleSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	exampleTimestamp = 1531420618
	exampleBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	exampleSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

// fixedNow returns a now func that always answers t.
func fixedNow(t time.Time) func() time.Time { return func() time.Time { return t } }

// newRequest builds a POST to /slack/commands with the given headers; an empty
// value leaves the header out.
func newRequest(body []byte, timestamp, signature string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/slack/commands", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if timestamp != "" {
		r.Header.Set("X-Slack-Request-Timestamp", timestamp)
	}
	if signature != "" {
		r.Header.Set("X-Slack-Signature", signature)
	}
	return r
}

func TestSignSlackExample(t *testing.T) {
	if got := Sign(exampleSecret, exampleTimestamp, []byte(exampleBody)); got != exampleSignature {
		t.Fatalf("Sign(Slack example) = %s, want %s", got, exampleSignature)
	}
}

func TestVerifyRequestSlackExample(t *testing.T) {
	r := newRequest([]byte(exampleBody), strconv.Itoa(exampleTimestamp), exampleSignature)
	body, err := VerifyRequest(r, exampleSecret, fixedNow(time.Unix(exampleTimestamp, 0)))
	if err != nil {
		t.Fatalf("VerifyRequest(Slack example) = %v, want nil", err)
	}
	if string(body) != exampleBody {
		t.Errorf("returned body = %q, want the example body", body)
	}
	// The body is restored, so the caller can still parse the form.
	if err := r.ParseForm(); err != nil {
		t.Fatalf("ParseForm after VerifyRequest: %v", err)
	}
	if got := r.PostForm.Get("command"); got != "/webhook-collect" {
		t.Errorf("PostForm command = %q, want /webhook-collect", got)
	}
}

func TestVerifyRequest(t *testing.T) {
	const secret = "muster-test-signing-secret"
	signedAt := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	ts := signedAt.Unix()
	tsText := strconv.FormatInt(ts, 10)
	body := []byte("command=%2Fincident&text=raise+intrusion+sev2+%40north-gate+fence+cut")
	sig := Sign(secret, ts, body)
	big := bytes.Repeat([]byte("a"), MaxBodyBytes+1)
	exact := bytes.Repeat([]byte("a"), MaxBodyBytes)

	tests := []struct {
		name    string
		body    []byte
		ts      string
		sig     string
		secret  string
		now     time.Time
		wantErr error // nil means the request must verify
	}{
		{name: "valid fresh", body: body, ts: tsText, sig: sig, secret: secret, now: signedAt},
		{name: "valid a minute later", body: body, ts: tsText, sig: sig, secret: secret, now: signedAt.Add(time.Minute)},
		{name: "valid exactly 5 min old", body: body, ts: tsText, sig: sig, secret: secret, now: signedAt.Add(5 * time.Minute)},
		{name: "valid exactly 5 min ahead", body: body, ts: tsText, sig: sig, secret: secret, now: signedAt.Add(-5 * time.Minute)},
		{name: "valid 5 min old plus a fraction of a second", body: body, ts: tsText, sig: sig, secret: secret, now: signedAt.Add(5*time.Minute + 999*time.Millisecond)},
		{name: "valid empty body", body: nil, ts: tsText, sig: Sign(secret, ts, nil), secret: secret, now: signedAt},
		{name: "valid body of exactly MaxBodyBytes", body: exact, ts: tsText, sig: Sign(secret, ts, exact), secret: secret, now: signedAt},
		{name: "valid uppercase hex", body: body, ts: tsText, sig: "v0=" + strings.ToUpper(strings.TrimPrefix(sig, "v0=")), secret: secret, now: signedAt},

		{name: "changed body", body: []byte(string(body) + "x"), ts: tsText, sig: sig, secret: secret, now: signedAt, wantErr: ErrBadSignature},
		{name: "changed timestamp", body: body, ts: strconv.FormatInt(ts+1, 10), sig: sig, secret: secret, now: signedAt, wantErr: ErrBadSignature},
		{name: "timestamp with a leading zero is other text", body: body, ts: "0" + tsText, sig: sig, secret: secret, now: signedAt, wantErr: ErrBadSignature},
		{name: "wrong secret", body: body, ts: tsText, sig: sig, secret: secret + "x", now: signedAt, wantErr: ErrBadSignature},
		{name: "signature without version", body: body, ts: tsText, sig: strings.TrimPrefix(sig, "v0="), secret: secret, now: signedAt, wantErr: ErrBadSignature},
		{name: "unknown signature version", body: body, ts: tsText, sig: "v1=" + strings.TrimPrefix(sig, "v0="), secret: secret, now: signedAt, wantErr: ErrBadSignature},
		{name: "signature not hex", body: body, ts: tsText, sig: "v0=zz", secret: secret, now: signedAt, wantErr: ErrBadSignature},
		{name: "truncated signature", body: body, ts: tsText, sig: sig[:len(sig)-2], secret: secret, now: signedAt, wantErr: ErrBadSignature},

		{name: "stale by 5 min 1 s", body: body, ts: tsText, sig: sig, secret: secret, now: signedAt.Add(5*time.Minute + time.Second), wantErr: ErrStaleTimestamp},
		{name: "future by 5 min 1 s", body: body, ts: tsText, sig: sig, secret: secret, now: signedAt.Add(-5*time.Minute - time.Second), wantErr: ErrStaleTimestamp},
		{name: "stale by a day", body: body, ts: tsText, sig: sig, secret: secret, now: signedAt.Add(24 * time.Hour), wantErr: ErrStaleTimestamp},
		{name: "timestamp at int64 max", body: body, ts: "9223372036854775807", sig: sig, secret: secret, now: signedAt, wantErr: ErrStaleTimestamp},
		{name: "timestamp at int64 min", body: body, ts: "-9223372036854775808", sig: sig, secret: secret, now: signedAt, wantErr: ErrStaleTimestamp},

		{name: "missing timestamp header", body: body, ts: "", sig: sig, secret: secret, now: signedAt, wantErr: ErrMissingHeader},
		{name: "missing signature header", body: body, ts: tsText, sig: "", secret: secret, now: signedAt, wantErr: ErrMissingHeader},
		{name: "garbled timestamp", body: body, ts: "yesterday", sig: sig, secret: secret, now: signedAt, wantErr: ErrBadTimestamp},
		{name: "fractional timestamp", body: body, ts: tsText + ".5", sig: sig, secret: secret, now: signedAt, wantErr: ErrBadTimestamp},
		{name: "timestamp beyond int64", body: body, ts: "99999999999999999999", sig: sig, secret: secret, now: signedAt, wantErr: ErrBadTimestamp},

		{name: "oversized body", body: big, ts: tsText, sig: Sign(secret, ts, big), secret: secret, now: signedAt, wantErr: ErrBodyTooLarge},
		{name: "empty secret", body: body, ts: tsText, sig: Sign("", ts, body), secret: "", now: signedAt, wantErr: ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(tt.body, tt.ts, tt.sig)
			got, err := VerifyRequest(r, tt.secret, fixedNow(tt.now))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("VerifyRequest error = %v, want %v", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("VerifyRequest returned %d body bytes with an error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyRequest error = %v, want nil", err)
			}
			if !bytes.Equal(got, tt.body) {
				t.Errorf("returned body differs from the sent body")
			}
			again, err := io.ReadAll(r.Body)
			if err != nil || !bytes.Equal(again, tt.body) {
				t.Errorf("r.Body after VerifyRequest = %d bytes (err %v), want the sent body", len(again), err)
			}
		})
	}
}

// An oversized body is refused even when it arrives without a Content-Length
// (chunked), so the limit holds on the bytes actually read.
func TestVerifyRequestOversizedChunked(t *testing.T) {
	const secret = "s"
	now := time.Unix(1_800_000_000, 0)
	big := bytes.Repeat([]byte("x"), MaxBodyBytes+10)
	r := newRequest(big, strconv.FormatInt(now.Unix(), 10), Sign(secret, now.Unix(), big))
	r.ContentLength = -1
	if _, err := VerifyRequest(r, secret, fixedNow(now)); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("VerifyRequest error = %v, want ErrBodyTooLarge", err)
	}
}

// A body that fails mid-read is reported, and is not mistaken for a bad
// signature.
func TestVerifyRequestReadError(t *testing.T) {
	const secret = "s"
	now := time.Unix(1_800_000_000, 0)
	r := newRequest(nil, strconv.FormatInt(now.Unix(), 10), Sign(secret, now.Unix(), nil))
	boom := errors.New("connection reset")
	r.Body = io.NopCloser(io.MultiReader(strings.NewReader("partial"), errReader{boom}))
	r.ContentLength = -1
	_, err := VerifyRequest(r, secret, fixedNow(now))
	if !errors.Is(err, boom) {
		t.Fatalf("VerifyRequest error = %v, want it to wrap %v", err, boom)
	}
	if errors.Is(err, ErrBadSignature) {
		t.Errorf("a read error must not be reported as a bad signature")
	}
}

// A nil now means the wall clock.
func TestVerifyRequestNilClock(t *testing.T) {
	const secret = "s"
	ts := time.Now().Unix()
	body := []byte("text=who+is+on+duty")
	r := newRequest(body, strconv.FormatInt(ts, 10), Sign(secret, ts, body))
	if _, err := VerifyRequest(r, secret, nil); err != nil {
		t.Fatalf("VerifyRequest with nil clock = %v, want nil", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func FuzzVerifyRequest(f *testing.F) {
	f.Add([]byte(exampleBody), strconv.Itoa(exampleTimestamp), exampleSignature, exampleSecret, int64(exampleTimestamp), false)
	f.Add([]byte(exampleBody), strconv.Itoa(exampleTimestamp), "", exampleSecret, int64(exampleTimestamp), true)
	f.Add([]byte{}, "", "", "", int64(0), false)
	f.Add([]byte("a=b"), "-1", "v0=", "k", int64(-1), true)
	f.Add([]byte("a=b"), "9223372036854775807", "v0=00", "k", int64(9223372036854775807), false)
	f.Add([]byte("a=b"), "+1531420618", "v0=zz", "k", int64(1531420618), true)

	f.Fuzz(func(t *testing.T, body []byte, ts, sig, secret string, nowUnix int64, signIt bool) {
		if len(body) > 2*MaxBodyBytes {
			t.Skip()
		}
		// Clamp the clock to a range time.Unix round-trips, so the property
		// checks below are about VerifyRequest, not about time.Time overflow.
		nowUnix %= 1 << 40
		now := time.Unix(nowUnix, 0)
		if signIt {
			// Sign properly with a timestamp that is fresh by construction:
			// this must then verify whenever the body fits.
			ts = strconv.FormatInt(nowUnix, 10)
			sig = Sign(secret, nowUnix, body)
		}
		r := newRequest(body, "", "")
		r.Header["X-Slack-Request-Timestamp"] = []string{ts}
		r.Header["X-Slack-Signature"] = []string{sig}

		got, err := VerifyRequest(r, secret, fixedNow(now))
		if err == nil {
			if !bytes.Equal(got, body) {
				t.Fatalf("verified body differs from the sent body")
			}
			if secret == "" {
				t.Fatalf("verified with an empty secret")
			}
			return
		}
		if got != nil {
			t.Fatalf("body returned together with error %v", err)
		}
		if signIt && secret != "" && len(body) <= MaxBodyBytes {
			t.Fatalf("a correctly signed, fresh request failed: %v", err)
		}
	})
}
