package scenario_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/muster-ops/muster/internal/fakediscord"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/store"
)

// Discord user ids of the example organization.
const (
	discordAmara = "1100000000000000101"
	discordJonah = "1100000000000000110"
	discordBen   = "1100000000000000102"
	harbourChan  = "1200000000000000001"
)

// buttons lists the custom_ids of a message's buttons.
func buttons(t *testing.T, m fakediscord.Message) []string {
	t.Helper()
	var rows []struct {
		Components []struct {
			CustomID string `json:"custom_id"`
		} `json:"components"`
	}
	if err := json.Unmarshal(m.Components, &rows); err != nil {
		t.Fatalf("components %s: %v", m.Components, err)
	}
	var ids []string
	for _, r := range rows {
		for _, c := range r.Components {
			ids = append(ids, c.CustomID)
		}
	}
	return ids
}

// status is the Status field of a message's embed.
func status(t *testing.T, m fakediscord.Message) string {
	t.Helper()
	var embeds []discordgo.MessageEmbed
	if err := json.Unmarshal(m.Embeds, &embeds); err != nil || len(embeds) != 1 {
		t.Fatalf("embeds %s: %v", m.Embeds, err)
	}
	for _, f := range embeds[0].Fields {
		if f.Name == "Status" {
			return f.Value
		}
	}
	t.Fatalf("no Status in %s", m.Embeds)
	return ""
}

// created is the message as muster posted it.
func created(t *testing.T, d *scenario.Discord, id string) fakediscord.Message {
	t.Helper()
	for _, m := range d.Fake.Messages() {
		if m.ID == id && m.Op == fakediscord.OpCreate {
			return m
		}
	}
	t.Fatalf("message %s was never created", id)
	return fakediscord.Message{}
}

func taskStatus(t *testing.T, d *scenario.Discord, ref string) *store.Task {
	t.Helper()
	n, _ := store.ParseID("T", ref)
	task, err := d.Store.Task(t.Context(), n)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// A task notice reaches the assignee's DMs with an Acknowledge button;
// pressing it in Discord acknowledges the task and edits the message.
func TestDiscordAckButtonAcknowledgesTask(t *testing.T) {
	d := scenario.NewDiscord(t)
	d.As("jonah").MustDo("/plan trigger medical-emergency @harbour Visitor collapsed in reception")

	card := d.Card("T-3", "")
	if card.ChannelID != d.Fake.DMChannels()[discordAmara] {
		t.Fatalf("T-3 notice in channel %s, want Amara's DMs %v", card.ChannelID, d.Fake.DMChannels())
	}
	if got := buttons(t, card); len(got) != 1 || got[0] != "ack:T-3" {
		t.Fatalf("buttons = %v, want ack:T-3", got)
	}
	// The notice pings Amara, and only her.
	var am struct {
		Parse []string `json:"parse"`
		Users []string `json:"users"`
	}
	posted := created(t, d, card.ID)
	if err := json.Unmarshal(posted.AllowedMentions, &am); err != nil || am.Parse == nil || len(am.Parse) != 0 || len(am.Users) != 1 || am.Users[0] != discordAmara {
		t.Fatalf("allowed_mentions = %s, want parse [] and users [Amara]", posted.AllowedMentions)
	}
	if !strings.HasPrefix(card.Content, "<@"+discordAmara+">") {
		t.Errorf("content = %q, want Amara mentioned first", card.Content)
	}

	resp := d.Click(discordAmara, card, "ack:T-3")
	if resp.Type != discordgo.InteractionResponseUpdateMessage {
		t.Fatalf("click answered %+v, want UPDATE_MESSAGE", resp)
	}
	if task := taskStatus(t, d, "T-3"); task.Status != store.TaskAcknowledged || task.AckedBy != "amara" {
		t.Fatalf("T-3 is %s by %q, want acknowledged by amara", task.Status, task.AckedBy)
	}
	now := d.Card("T-3", "")
	if now.ID != card.ID || (now.Op != fakediscord.OpUpdate && now.Op != fakediscord.OpEdit) {
		t.Fatalf("message %s last changed by %q, want the click's update or an edit", now.ID, now.Op)
	}
	if s := status(t, now); !strings.Contains(s, "acknowledged by Amara Okafor") {
		t.Errorf("status = %q", s)
	}
	if got := buttons(t, now); len(got) != 1 || got[0] != "done:T-3" {
		t.Errorf("buttons after ack = %v, want done:T-3", got)
	}
	if now.Content != card.Content {
		t.Errorf("content changed from %q to %q", card.Content, now.Content)
	}

	// Pressing it again is refused, to the presser only.
	resp = d.Click(discordAmara, card, "ack:T-3")
	if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data.Flags != discordgo.MessageFlagsEphemeral ||
		!strings.Contains(resp.Data.Content, "already acknowledged") {
		t.Errorf("second click answered %+v", resp.Data)
	}
	// Done finishes it and takes the buttons away.
	d.Click(discordAmara, d.Card("T-3", ""), "done:T-3")
	if task := taskStatus(t, d, "T-3"); task.Status != store.TaskDone {
		t.Fatalf("T-3 is %s, want done", task.Status)
	}
	if got := buttons(t, d.Card("T-3", "")); len(got) != 0 {
		t.Errorf("buttons after done = %v, want none", got)
	}
}

// An acknowledgement on another surface (SMS, the console) edits the
// Discord message, so nobody acts on a stale one.
func TestDiscordTaskMessageFollowsSMSAndConsole(t *testing.T) {
	d := scenario.NewDiscord(t)
	d.As("jonah").MustDo("/plan trigger medical-emergency @harbour Visitor collapsed in reception")
	card := d.Card("T-3", "")
	edits := func() int {
		n := 0
		for _, m := range d.Fake.Messages() {
			if m.ID == card.ID && m.Op == fakediscord.OpEdit {
				n++
			}
		}
		return n
	}
	before := edits()
	if r := d.SMS("+447700900101", "ACK 3"); r.Error {
		t.Fatalf("SMS ACK refused: %s", r.Text)
	}
	if edits() == before {
		t.Fatal("the SMS acknowledgement did not edit the Discord message")
	}
	if s := status(t, d.Card("T-3", "")); !strings.Contains(s, "acknowledged by Amara Okafor") {
		t.Errorf("status after SMS = %q", s)
	}
	before = edits()
	d.As("amara").MustDo("/done T-3")
	if edits() == before {
		t.Fatal("the console's /done did not edit the Discord message")
	}
	now := d.Card("T-3", "")
	if s := status(t, now); !strings.HasPrefix(s, "done by Amara Okafor") {
		t.Errorf("status after /done = %q", s)
	}
	if len(buttons(t, now)) != 0 {
		t.Errorf("buttons after /done: %s", now.Components)
	}
}

// An incident raised in Discord gets a card in the site channel; a
// supervisor resolves it with its button; a guard may not.
func TestDiscordIncidentCardButtons(t *testing.T) {
	d := scenario.NewDiscord(t)
	resp := d.Slash(discordBen, harbourChan, "incident", "raise",
		scenario.Option{Name: "category", Value: "intrusion"}, scenario.Option{Name: "text", Value: "<!channel> @everyone <@U123> fence cut at gate B"})
	if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data.Flags != 0 || !strings.Contains(resp.Data.Content, "INC-1 raised") {
		t.Fatalf("raise answered %+v", resp.Data)
	}
	card := d.Card("INC-1", harbourChan)
	if got := buttons(t, card); strings.Join(got, " ") != "incack:INC-1 resolve:INC-1" {
		t.Fatalf("buttons = %v", got)
	}
	if am := created(t, d, card.ID).AllowedMentions; string(am) != `{"parse":[],"replied_user":false}` {
		t.Fatalf("allowed_mentions = %s, want parse: [] and no users", am)
	}

	resp = d.Click(discordBen, card, "resolve:INC-1")
	if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data.Flags != discordgo.MessageFlagsEphemeral {
		t.Fatalf("a guard's resolve answered %+v, want an ephemeral refusal", resp.Data)
	}
	d.Click(discordJonah, card, "incack:INC-1")
	if s := status(t, d.Card("INC-1", harbourChan)); !strings.Contains(s, "acknowledged by Jonah Reid") {
		t.Fatalf("status = %q", s)
	}
	resp = d.Click(discordJonah, d.Card("INC-1", harbourChan), "resolve:INC-1")
	if resp.Type != discordgo.InteractionResponseUpdateMessage {
		t.Fatalf("resolve answered %+v", resp)
	}
	now := d.Card("INC-1", harbourChan)
	if s := status(t, now); !strings.Contains(s, "resolved by Jonah Reid") || !strings.Contains(s, "resolved from Discord") {
		t.Errorf("status = %q", s)
	}
	if len(buttons(t, now)) != 0 {
		t.Errorf("buttons after resolve: %s", now.Components)
	}
}
