package fakeslack

import (
	"encoding/json"
	"regexp"
	"slices"
)

// Mention syntax a real Slack turns into a notification.
var (
	// explicitMention is the markup Slack always honours in message text and
	// in mrkdwn text objects: <!channel>, <!here>, <!everyone>,
	// <!subteam^S123>, <@U123> and <@W123>, each optionally with a |label.
	explicitMention = regexp.MustCompile(`<(!channel|!here|!everyone|!subteam\^[A-Z0-9]+|@[UW][A-Z0-9]+)(\|[^>]*)?>`)
	// bareMention is what Slack also turns into a mention when asked to
	// parse names (link_names, parse=full) or, in a mrkdwn text object, when
	// verbatim is off: @channel, @here, @everyone.
	bareMention = regexp.MustCompile(`(?:^|[^\w@])(@(?:channel|here|everyone))\b`)
)

// LiveMentions returns every mention in p that Slack would deliver as a
// notification, in the order found: explicit markup (<!channel>, <@U123>)
// in the text and in mrkdwn text objects of the blocks; bare @channel,
// @here and @everyone in the text when link_names is on or parse is
// "full", and in a mrkdwn text object whose verbatim is not true; and the
// user and broadcast elements of rich-text blocks. Escaped text
// (&lt;!channel&gt;) and plain_text objects mention nobody.
func LiveMentions(p Post) []string {
	var out []string
	out = append(out, explicit(p.Text)...)
	if truthy(p.LinkNames) || p.Parse == "full" {
		out = append(out, bare(p.Text)...)
	}
	if len(p.Blocks) > 0 {
		var v any
		if json.Unmarshal(p.Blocks, &v) == nil {
			out = append(out, blockMentions(v)...)
		}
	}
	return out
}

func truthy(s string) bool { return s == "1" || s == "true" }

func explicit(s string) []string {
	var out []string
	for _, m := range explicitMention.FindAllStringSubmatch(s, -1) {
		out = append(out, "<"+m[1]+">")
	}
	return out
}

func bare(s string) []string {
	var out []string
	for _, m := range bareMention.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// blockMentions walks block JSON for mrkdwn text objects and rich-text
// mention elements.
func blockMentions(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = append(out, blockMentions(e)...)
		}
	case map[string]any:
		typ, _ := x["type"].(string)
		switch typ {
		case "mrkdwn":
			text, _ := x["text"].(string)
			out = append(out, explicit(text)...)
			if verbatim, _ := x["verbatim"].(bool); !verbatim {
				out = append(out, bare(text)...)
			}
		case "user":
			if id, ok := x["user_id"].(string); ok {
				out = append(out, "<@"+id+">")
			}
		case "broadcast":
			if r, ok := x["range"].(string); ok {
				out = append(out, "<!"+r+">")
			}
		case "usergroup":
			if id, ok := x["usergroup_id"].(string); ok {
				out = append(out, "<!subteam^"+id+">")
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k == "text" && typ == "mrkdwn" {
				continue
			}
			out = append(out, blockMentions(x[k])...)
		}
	}
	return out
}
