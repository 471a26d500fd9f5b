package discord_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/muster-ops/muster/store"
)

// A signed interaction sent again (a replay: Discord delivers each
// interaction once, under its own id) is refused with 401 and runs
// nothing, whatever timestamp it carries.
func TestReplayedInteractionIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	payload := e.slash(amara, harbour, "incident", "raise", opt{"category", "fire"}, opt{"text", "smoke in the loading bay"})
	status, resp := e.send(payload)
	if status != http.StatusOK || !strings.Contains(resp.Data.Content, "INC-1 raised") {
		t.Fatalf("first copy: %d %+v", status, resp.Data)
	}
	ts := strconv.FormatInt(e.clk.Now().Unix(), 10)
	sig := hex.EncodeToString(ed25519.Sign(e.priv, append([]byte(ts), payload...)))
	if got := e.post(payload, ts, sig); got != http.StatusUnauthorized {
		t.Fatalf("replay: HTTP %d, want 401", got)
	}
	e.deliver()
	list, err := e.st.ListIncidents(e.ctx(), store.IncidentFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("%d incidents (%v) after a replay, want 1", len(list), err)
	}
	// The same command as a new interaction runs.
	if status, resp := e.send(e.slash(amara, harbour, "incident", "raise", opt{"category", "fire"}, opt{"text", "smoke in the loading bay"})); status != http.StatusOK ||
		!strings.Contains(resp.Data.Content, "INC-2 raised") {
		t.Fatalf("new interaction: %d %+v", status, resp.Data)
	}
	// PINGs are answered however often they come.
	ping := []byte(`{"id":"42","application_id":"` + appID + `","type":1,"token":"tok-ping","version":1}`)
	sig = hex.EncodeToString(ed25519.Sign(e.priv, append([]byte(ts), ping...)))
	for i := range 2 {
		if got := e.post(ping, ts, sig); got != http.StatusOK {
			t.Fatalf("ping %d: HTTP %d", i, got)
		}
	}
}
