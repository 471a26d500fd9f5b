package scenario_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	slackbot "github.com/muster-ops/muster/bot/slack"
	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/store"
)

// actionIDs lists the action_ids of a message's buttons.
func actionIDs(t *testing.T, p fakeslack.Post) []string {
	t.Helper()
	var blocks []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(p.Blocks, &blocks); err != nil {
		t.Fatalf("blocks %s: %v", p.Blocks, err)
	}
	var ids []string
	for _, b := range blocks {
		for _, e := range b.Elements {
			if e.ActionID != "" {
				ids = append(ids, e.ActionID)
			}
		}
	}
	return ids
}

func blocksText(p fakeslack.Post) string {
	return strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(string(p.Blocks))
}

// A guard raises an incident from Slack: the card lands in the site's
// channel; a supervisor's Acknowledge and Resolve buttons act through the
// commands and the card follows; an update goes into the card's thread.
func TestSlackIncidentCardFollowsButtons(t *testing.T) {
	s := scenario.NewSlack(t)
	ans := s.Slash("U0AMARA", "C0HARBOUR", "/incident", "raise intrusion sev2 fence cut near gate B")
	if ans.Status != 200 || ans.ResponseType != "in_channel" || !strings.HasPrefix(ans.Text, "INC-1 raised") {
		t.Fatalf("answer = %+v", ans)
	}
	s.Deliver()
	card := s.Card("INC-1", "C0HARBOUR")
	if got := actionIDs(t, card); strings.Join(got, ",") != slackbot.ActionAck+","+slackbot.ActionResolve {
		t.Fatalf("buttons = %v", got)
	}

	r := s.Click("U0GRACE", "C0HARBOUR", slackbot.ActionAck, "INC-1")
	if r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "INC-1") {
		t.Errorf("ack answer = %+v", r)
	}
	inc, err := s.Store.Incident(context.Background(), 1)
	if err != nil || inc.Status != store.StatusAcknowledged || inc.AckedBy != "grace" {
		t.Fatalf("incident after the button = %+v, %v", inc, err)
	}
	s.Deliver()
	card = s.Card("INC-1", "C0HARBOUR")
	if card.Method != "chat.update" || !strings.Contains(blocksText(card), "Acknowledged by Grace Kim") {
		t.Errorf("card after ack: %s %s", card.Method, card.Blocks)
	}
	if got := actionIDs(t, card); strings.Join(got, ",") != slackbot.ActionResolve {
		t.Errorf("buttons after ack = %v, want only Resolve", got)
	}

	s.Slash("U0GRACE", "C0HARBOUR", "/incident", "update INC-1 police on site")
	s.Deliver()
	var reply fakeslack.Post
	for _, p := range s.Fake.Posts() {
		if p.Method == "chat.postMessage" && strings.Contains(p.Text, "police on site") {
			reply = p
		}
	}
	if reply.ThreadTS != card.TS || reply.Channel != "C0HARBOUR" {
		t.Errorf("update posted in %s thread %q, want the card's thread %q", reply.Channel, reply.ThreadTS, card.TS)
	}

	s.Click("U0GRACE", "C0HARBOUR", slackbot.ActionResolve, "INC-1")
	s.Deliver()
	card = s.Card("INC-1", "C0HARBOUR")
	if !strings.Contains(blocksText(card), "Resolved by Grace Kim") || len(actionIDs(t, card)) != 0 {
		t.Errorf("card after resolve: %s", card.Blocks)
	}
}

// A plan triggered from Slack sends the assignee a task card in their DM;
// acknowledging by SMS updates that card (chat.update with the new status,
// no button left), and so does a console /ack of another task.
func TestSlackTaskCardFollowsSMSAndConsoleAck(t *testing.T) {
	s := scenario.NewSlack(t)
	ans := s.Slash("U0JONAH", "C0HARBOUR", "/plan", "trigger medical-emergency Visitor collapsed in reception")
	if ans.Status != 200 || !strings.Contains(ans.Text, "A-1 triggered") {
		t.Fatalf("answer = %+v", ans)
	}
	s.Deliver()
	if _, err := s.Fake.WaitForPost(context.Background(), func(p fakeslack.Post) bool {
		return p.Channel == "C0HARBOUR" && strings.Contains(p.Text, "MEDICAL EMERGENCY")
	}); err != nil {
		t.Fatal(err)
	}

	// T-3 goes to Amara (the guard on duty), in her DM.
	card := s.Card("T-3", "DU0AMARA")
	if !strings.Contains(blocksText(card), "<@U0AMARA>") || strings.Join(actionIDs(t, card), ",") != slackbot.ActionAck {
		t.Fatalf("task card = %s", card.Blocks)
	}
	if r := s.SMS("+447700900101", "ACK 3"); r.Error {
		t.Fatalf("SMS ack refused: %s", r.Text)
	}
	s.Deliver()
	card = s.Card("T-3", "DU0AMARA")
	if card.Method != "chat.update" || !strings.Contains(blocksText(card), "Acknowledged by Amara Okafor") || len(actionIDs(t, card)) != 0 {
		t.Errorf("task card after SMS ack: %s %s", card.Method, card.Blocks)
	}

	// T-1 (first-aider) acknowledged from the console by its assignee.
	t1, err := s.Store.Task(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	who, _ := s.Config.Person(t1.Assignee)
	s.As(who.ID).MustDo("/ack T-1")
	s.Deliver()
	card = s.Card("T-1", "D"+who.Slack)
	if !strings.Contains(blocksText(card), "Acknowledged by "+who.Name) || len(actionIDs(t, card)) != 0 {
		t.Errorf("T-1 card after console ack: %s", card.Blocks)
	}
}

// The Acknowledge button on a task card acknowledges the task as the
// clicking user and the card follows.
func TestSlackTaskAckButton(t *testing.T) {
	s := scenario.NewSlack(t)
	s.Slash("U0JONAH", "C0HARBOUR", "/plan", "trigger medical-emergency")
	s.Deliver()
	card := s.Card("T-3", "DU0AMARA")
	r := s.Click("U0AMARA", card.Channel, slackbot.ActionAck, "T-3")
	if !strings.Contains(r.Text, "T-3 acknowledged by Amara Okafor") {
		t.Errorf("answer = %+v", r)
	}
	if tk, _ := s.Store.Task(context.Background(), 3); tk.Status != store.TaskAcknowledged {
		t.Fatalf("T-3 status %q after the button", tk.Status)
	}
	s.Deliver()
	if card = s.Card("T-3", "DU0AMARA"); !strings.Contains(blocksText(card), "Acknowledged by Amara Okafor") {
		t.Errorf("card after button: %s", card.Blocks)
	}
	// Someone else's task: refused by the commands, nothing changes.
	r = s.Click("U0BEN", "DU0BEN", slackbot.ActionAck, "T-1")
	if tk, _ := s.Store.Task(context.Background(), 1); tk.Status != store.TaskOpen || !strings.Contains(r.Text, "assigned to") {
		t.Errorf("Ben acked T-1 (%s): %q", tk.Status, r.Text)
	}
}
