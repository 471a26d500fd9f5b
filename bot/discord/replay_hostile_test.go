package discord_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/muster-ops/muster/bot"
	"github.com/muster-ops/muster/bot/discord"
	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/internal/storetest"
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

// replica starts a second muster (its own store client, service and
// Discord adapter) on the same Redis and namespace as e, with the same
// application key, and returns its interactions URL.
func (e *env) replica() string {
	e.t.Helper()
	var st *store.Store
	if e.st.Embedded() {
		st = storetest.OpenURL(e.t, "redis://"+e.st.Addr(), e.st.Namespace(), e.clk.Now)
	} else {
		st = storetest.OpenNamespace(e.t, e.st.Namespace(), e.clk.Now)
	}
	a, err := discord.New(discord.Options{
		Service: commands.New(commands.Options{Config: e.cfg, Store: st, Now: e.clk.Now}), Store: st, Config: e.cfg,
		BotToken: token, AppID: appID, PublicKey: hex.EncodeToString(e.pub), APIURL: "http://127.0.0.1:1/api", Clock: e.clk,
		DisableGateway: true,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	srv := bot.NewServer(nil, nil, nil)
	srv.Handle("POST /discord/interactions", a)
	front := httptest.NewServer(srv)
	e.t.Cleanup(front.Close)
	e.t.Cleanup(a.Wait)
	return front.URL + "/discord/interactions"
}

// auditSeq is the audit stream's length: every change appends to it (the
// sealer, which does not run here, moves the chain's head later).
func (e *env) auditSeq() string {
	e.t.Helper()
	return strconv.FormatInt(e.st.Client().XLen(e.ctx(), e.st.Key("audit")).Val(), 10)
}

// A replayed interaction changes nothing, whether its command answered at
// once (a button that acknowledges a task) or was deferred (a plan
// trigger, answered before it runs), and whether the copy goes to the
// replica that ran it or to another one on the same Redis.
func TestReplayedInteractionChangesNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	other := e.replica()
	if r := e.console("jonah", "/plan trigger fire-evacuation @harbour drill of the replay check"); r.Error {
		t.Fatal(r.Text)
	}
	task, err := e.st.Task(e.ctx(), 1)
	if err != nil {
		t.Fatal(err)
	}
	assignee, ok := e.cfg.Person(task.Assignee)
	if !ok || assignee.Discord == "" {
		t.Fatalf("T-1 is assigned to %q, who has no Discord id", task.Assignee)
	}
	for _, c := range []struct {
		name    string
		payload []byte
	}{
		{"button ack", e.interaction(assignee.Discord, harbour, 3, map[string]any{"custom_id": "ack:T-1", "component_type": 2}, map[string]any{"id": "1"})},
		{"deferred trigger", e.slash(jonah, harbour, "plan", "trigger", opt{"plan", "fire-evacuation"}, opt{"note", "second"})},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.auditSeq()
			status, body, err := e.fake.SendInteraction(e.ctx(), e.url, e.priv, c.payload)
			if err != nil || status != http.StatusOK {
				t.Fatalf("first copy: HTTP %d %s %v", status, body, err)
			}
			e.deliver()
			after := e.auditSeq()
			if after == before {
				t.Fatalf("the first copy changed nothing (audit seq %s): the check below would prove nothing", after)
			}
			ts := strconv.FormatInt(e.clk.Now().Unix(), 10)
			for _, url := range []string{e.url, other} {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(c.payload))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Signature-Timestamp", ts)
				req.Header.Set("X-Signature-Ed25519", e.sign(ts, c.payload))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("copy to %s: HTTP %d, want 401", url, resp.StatusCode)
				}
			}
			e.deliver()
			if got := e.auditSeq(); got != after {
				t.Errorf("audit seq %s after the copies, want %s: a copy changed the records", got, after)
			}
		})
	}
}
