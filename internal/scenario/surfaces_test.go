package scenario_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/fakediscord"

	"github.com/muster-ops/muster/internal/scenario"
)

// harbourDiscord is the harbour site's Discord channel in the example
// config.
const harbourDiscord = "1200000000000000001"

// With Slack and Discord both connected, Slack refusing a post (its
// channel rate limited for longer than the send may wait) loses nothing
// and doubles nothing: Discord and the console get the incident at once,
// Slack once its limit has passed, and no surface gets it twice.
func TestChatOnceOnEachSurface(t *testing.T) {
	f := scenario.NewFront(t, scenario.Options{})
	f.SlackFake.RateLimitNext(1, time.Minute)

	f.As("jonah").MustDo("/incident raise intrusion sev2 @harbour Fence cut near gate B")
	f.Settle()
	if n := slackPosts(f); n != 0 {
		t.Fatalf("%d Slack posts of INC-1 while Slack is rate limited, want none", n)
	}
	if n := discordPosts(f); n != 1 {
		t.Fatalf("%d Discord posts of INC-1, want 1", n)
	}

	f.Advance(time.Minute + time.Second) // Slack's Retry-After
	f.Settle()
	if n := slackPosts(f); n != 1 {
		t.Fatalf("%d Slack posts of INC-1 after the rate limit, want 1", n)
	}
	if n := discordPosts(f); n != 1 {
		t.Fatalf("%d Discord posts of INC-1 after Slack's retry, want still 1", n)
	}
	console := 0
	for _, m := range f.Out.Messages() {
		if m.Ref == "INC-1" && m.Site == "harbour" && m.Kind == "incident" {
			console++
		}
	}
	if console != 1 {
		t.Fatalf("the console got INC-1 %d times, want once:\n%s", console, f.Out.Dump())
	}
}

// slackPosts counts INC-1's posts in the harbour's Slack channel.
func slackPosts(f *scenario.Front) int {
	n := 0
	for _, p := range f.SlackFake.Posts() {
		if p.Method == "chat.postMessage" && p.Channel == harbourSlack && p.ThreadTS == "" && strings.Contains(p.Text, "INC-1") {
			n++
		}
	}
	return n
}

// discordPosts counts INC-1's posts in the harbour's Discord channel.
func discordPosts(f *scenario.Front) int {
	n := 0
	for _, m := range f.DiscordFake.Messages() {
		if m.Op == fakediscord.OpCreate && m.ChannelID == harbourDiscord && strings.Contains(m.Content, "INC-1") {
			n++
		}
	}
	return n
}
