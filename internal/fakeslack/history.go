package fakeslack

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

// Reading messages back, as conversations.history and conversations.replies do:
//
//   - conversations.history lists a channel's messages (not thread replies), newest first;
//   - conversations.replies lists a thread: its parent first, then its replies, oldest first;
//   - both take oldest and latest (message timestamps; exclusive unless inclusive is true),
//     limit (default 100, at most 999 as Slack caps it) and cursor, and answer has_more and
//     response_metadata.next_cursor;
//   - a message's metadata (chat.postMessage's metadata argument) is in the answer only with
//     include_all_metadata=true (or 1), as {"event_type": ..., "event_payload": {...}}.
//
// An empty channel answers no messages; a missing channel argument is channel_not_found, and
// conversations.replies of a ts that is no message there is thread_not_found.

// history answers conversations.history.
func (s *Server) history(c call) map[string]any {
	ch := channelFor(c.args["channel"])
	if ch == "" {
		return fail("channel_not_found")
	}
	s.mu.Lock()
	var msgs []Post
	for i := len(s.posts) - 1; i >= 0; i-- {
		p := s.posts[i]
		if p.Method != "chat.postMessage" || p.Channel != ch || (p.ThreadTS != "" && p.ThreadTS != p.TS) {
			continue
		}
		msgs = append(msgs, s.current[p.Channel+" "+p.TS].clone())
	}
	s.mu.Unlock()
	return page(c, inRange(c, msgs))
}

// replies answers conversations.replies.
func (s *Server) replies(c call) map[string]any {
	ch, ts := channelFor(c.args["channel"]), c.args["ts"]
	if ch == "" {
		return fail("channel_not_found")
	}
	s.mu.Lock()
	parent, ok := s.current[ch+" "+ts]
	var msgs []Post
	for _, p := range s.posts {
		if p.Method == "chat.postMessage" && p.Channel == ch && p.ThreadTS == ts && p.TS != ts {
			msgs = append(msgs, s.current[p.Channel+" "+p.TS].clone())
		}
	}
	s.mu.Unlock()
	if !ok || parent.ThreadTS != "" && parent.ThreadTS != parent.TS {
		return fail("thread_not_found")
	}
	return page(c, append([]Post{parent.clone()}, inRange(c, msgs)...))
}

// inRange keeps the messages within the call's oldest and latest.
func inRange(c call, msgs []Post) []Post {
	oldest, latest := c.args["oldest"], c.args["latest"]
	inclusive := c.args["inclusive"] == "true" || c.args["inclusive"] == "1"
	var out []Post
	for _, p := range msgs {
		if oldest != "" && (tsLess(p.TS, oldest) || !inclusive && p.TS == oldest) {
			continue
		}
		if latest != "" && (tsLess(latest, p.TS) || !inclusive && p.TS == latest) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// tsLess compares two message timestamps as numbers.
func tsLess(a, b string) bool {
	x, _ := strconv.ParseFloat(a, 64)
	y, _ := strconv.ParseFloat(b, 64)
	if x != y {
		return x < y
	}
	return a < b
}

// page answers one page of msgs after the call's cursor.
func page(c call, msgs []Post) map[string]any {
	limit := 100
	if n, err := strconv.Atoi(c.args["limit"]); err == nil && n > 0 {
		limit = min(n, 999)
	}
	from := 0
	if cur := c.args["cursor"]; cur != "" {
		b, err := base64.StdEncoding.DecodeString(cur)
		n, aerr := strconv.Atoi(strings.TrimPrefix(string(b), "next:"))
		if err != nil || aerr != nil || n < 0 || n > len(msgs) {
			return fail("invalid_cursor")
		}
		from = n
	}
	to := min(from+limit, len(msgs))
	withMeta := c.args["include_all_metadata"] == "true" || c.args["include_all_metadata"] == "1"
	out := make([]map[string]any, 0, to-from)
	for _, p := range msgs[from:to] {
		m := messageJSON(p)
		if withMeta && p.Metadata != nil {
			m["metadata"] = json.RawMessage(p.Metadata)
		}
		out = append(out, m)
	}
	next := ""
	if to < len(msgs) {
		next = base64.StdEncoding.EncodeToString([]byte("next:" + strconv.Itoa(to)))
	}
	return map[string]any{"ok": true, "messages": out, "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next}}
}
