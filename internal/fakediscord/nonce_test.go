package fakediscord

import (
	"net/http"
	"testing"
	"time"
)

// enforce_nonce: a second create with a nonce the bot used within
// NonceWindow answers the first message and creates nothing; without
// enforce_nonce, or after the window, it creates another. A nonce longer
// than 25 characters is refused.
func TestEnforceNonce(t *testing.T) {
	fake, srv := newFake(t)
	now := time.Unix(1800000000, 0)
	fake.SetClock(func() time.Time { return now })
	create := func(body string) answer {
		t.Helper()
		a, err := do(srv, http.MethodPost, "/api/v10/channels/c1/messages", "Bot "+testToken, body)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	first := create(`{"content":"T-3 Report in","nonce":"abc","enforce_nonce":true}`)
	if first.status != http.StatusOK || first.body["nonce"] != "abc" {
		t.Fatalf("first create: %d %s", first.status, first.raw)
	}
	again := create(`{"content":"T-3 Report in","nonce":"abc","enforce_nonce":true}`)
	if again.status != http.StatusOK || again.body["id"] != first.body["id"] {
		t.Fatalf("second create with the nonce: %d %s; want the first message", again.status, again.raw)
	}
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("%d messages created, want 1", n)
	}
	// Without enforce_nonce the nonce is only echoed.
	if a := create(`{"content":"x","nonce":"abc"}`); a.status != http.StatusOK || a.body["id"] == first.body["id"] {
		t.Fatalf("create without enforce_nonce: %d %s; want a new message", a.status, a.raw)
	}
	// An integer nonce counts too.
	n1 := create(`{"content":"y","nonce":12345,"enforce_nonce":true}`)
	if n2 := create(`{"content":"y","nonce":"12345","enforce_nonce":true}`); n2.body["id"] != n1.body["id"] {
		t.Fatalf("integer then string nonce: %s then %s", n1.raw, n2.raw)
	}
	now = now.Add(NonceWindow)
	if a := create(`{"content":"T-3 Report in","nonce":"abc","enforce_nonce":true}`); a.status != http.StatusOK || a.body["id"] == first.body["id"] {
		t.Fatalf("create after the window: %d %s; want a new message", a.status, a.raw)
	}
	if a := create(`{"content":"z","nonce":"12345678901234567890123456","enforce_nonce":true}`); a.status != http.StatusBadRequest {
		t.Fatalf("26-character nonce: %d %s, want 400", a.status, a.raw)
	}
}
