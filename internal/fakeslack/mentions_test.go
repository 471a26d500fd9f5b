package fakeslack

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestLiveMentions(t *testing.T) {
	tests := []struct {
		name string
		post Post
		want []string
	}{
		{"explicit in text", Post{Text: "hi <!channel> and <@U123|bob>"}, []string{"<!channel>", "<@U123>"}},
		{"escaped text", Post{Text: "hi &lt;!channel&gt; &lt;@U123&gt; @everyone"}, nil},
		{"bare words without link_names", Post{Text: "@channel @here @everyone"}, nil},
		{"bare words with link_names", Post{Text: "see @everyone now", LinkNames: "1"}, []string{"@everyone"}},
		{"bare words with parse=full", Post{Text: "@here", Parse: "full"}, []string{"@here"}},
		{"email is no mention", Post{Text: "a@here.com", LinkNames: "true"}, nil},
		{"mrkdwn not verbatim", Post{Blocks: json.RawMessage(`[{"type":"section","text":{"type":"mrkdwn","text":"@everyone <!here>"}}]`)}, []string{"<!here>", "@everyone"}},
		{"mrkdwn verbatim", Post{Blocks: json.RawMessage(`[{"type":"section","text":{"type":"mrkdwn","text":"@everyone <@W9>","verbatim":true}}]`)}, []string{"<@W9>"}},
		{"plain_text", Post{Blocks: json.RawMessage(`[{"type":"header","text":{"type":"plain_text","text":"<!channel> @everyone"}}]`)}, nil},
		{"rich text", Post{Blocks: json.RawMessage(`[{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[{"type":"user","user_id":"U1"},{"type":"broadcast","range":"channel"}]}]}]`)}, []string{"<@U1>", "<!channel>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LiveMentions(tt.post); !slices.Equal(got, tt.want) {
				t.Errorf("LiveMentions = %q, want %q", got, tt.want)
			}
		})
	}
}
