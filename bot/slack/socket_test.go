package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/fakeslack"
)

// Socket Mode feeds the same handler: a slash command pushed down the
// WebSocket is answered in its acknowledgement, a stranger gets the roster
// answer, and a button click acts.
func TestSocketModeFeedsTheSameHandler(t *testing.T) {
	const appToken = "xapp-muster-test"
	e := newEnv(t, func(o *Options) {
		o.AppToken = appToken
		o.SigningSecret = "" // no public URL: Socket Mode needs none
		o.ChangeBlock = 50 * time.Millisecond
	})
	e.fake.EnableSocketMode(appToken)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.a.Run(runCtx) }()

	ack, err := e.fake.SendSlashCommand(ctx, map[string]string{
		"command": "/incident", "text": "raise fire sev1 @depot smoke from the battery store",
		"user_id": "U0FARID", "channel_id": "C0DEPOT", "response_url": e.fake.ResponseURL(e.slack.URL),
	})
	if err != nil {
		t.Fatal(err)
	}
	var r Response
	if err := json.Unmarshal(ack, &r); err != nil || r.ResponseType != "in_channel" || !strings.HasPrefix(r.Text, "INC-1 raised") {
		t.Fatalf("ack payload %s (%v)", ack, err)
	}
	if inc, err := e.st.Incident(ctx, 1); err != nil || inc.Site != "depot" || inc.Severity != "sev1" {
		t.Fatalf("incident = %+v, %v", inc, err)
	}

	ack, err = e.fake.SendSlashCommand(ctx, map[string]string{"command": "/roster", "text": "", "user_id": "U0NOBODY", "channel_id": "C0DEPOT"})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ack, &r); err != nil || r.Text != NotOnRoster {
		t.Fatalf("stranger's ack payload %s (%v)", ack, err)
	}

	respURL := e.fake.ResponseURL(e.slack.URL)
	if _, err := e.fake.SendInteraction(ctx, map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U0GRACE"}, "channel": map[string]any{"id": "C0DEPOT"},
		"response_url": respURL,
		"actions":      []map[string]any{{"type": "button", "action_id": ActionAck, "value": "INC-1", "block_id": "actions"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.WaitForResponse(ctx, func(fr fakeslack.Response) bool { return strings.Contains(fr.Text, "INC-1") }); err != nil {
		t.Fatal(err)
	}
	if inc, _ := e.st.Incident(ctx, 1); inc.AckedBy != "grace" {
		t.Errorf("incident after the socket button: %+v", inc)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not stop")
	}
}
