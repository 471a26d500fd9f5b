package fakeslack

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
)

// handleAPI serves one Web API method.
func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	c, err := parseCall(r)
	status, answer := http.StatusOK, map[string]any(nil)
	if err == nil && c.method == "apps.connections.open" {
		// Socket Mode takes the app-level token, not the bot token.
		answer = s.openConnection(c, r.Host)
		slackErr, _ := answer["error"].(string)
		s.record(c, status, slackErr)
		writeJSON(w, status, answer)
		return
	}
	switch {
	case err != nil:
		answer = fail("invalid_form_data")
	case c.token == "":
		answer = fail("not_authed")
	case subtle.ConstantTimeCompare([]byte(c.token), []byte(s.botToken)) != 1:
		answer = fail("invalid_auth")
	}
	if answer == nil && !s.door.Pass(r.Context()) {
		return // the caller went away while held: nothing happened
	}
	if answer == nil {
		if after, limited := s.takeRateLimit(); limited {
			s.record(c, http.StatusTooManyRequests, "ratelimited")
			writeRateLimited(w, after)
			return
		}
		if slackErr, failed := s.takeFailure(c.method); failed {
			answer = fail(slackErr)
		}
	}
	if answer == nil {
		status, answer = s.dispatch(c)
	}
	slackErr, _ := answer["error"].(string)
	s.record(c, status, slackErr)
	if c.method == "chat.postMessage" && slackErr == "" && !s.answers.Pass(r.Context()) {
		return // the caller went away; the post stays made, as on Slack
	}
	writeJSON(w, status, answer)
}

func (s *Server) record(c call, status int, slackErr string) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: c.method, ContentType: c.ctype, TokenIn: c.tokenIn, Args: maps.Clone(c.args),
		Status: status, Error: slackErr, Received: s.now(),
	})
	s.mu.Unlock()
	s.changes.Notify()
}

func fail(slackErr string) map[string]any {
	return map[string]any{"ok": false, "error": slackErr}
}

func (s *Server) dispatch(c call) (int, map[string]any) {
	switch c.method {
	case "chat.postMessage":
		return http.StatusOK, s.postMessage(c)
	case "chat.update":
		return http.StatusOK, s.update(c)
	case "chat.postEphemeral":
		return http.StatusOK, s.postEphemeral(c)
	case "conversations.open":
		return http.StatusOK, s.openConversation(c)
	case "conversations.history":
		return http.StatusOK, s.history(c)
	case "conversations.replies":
		return http.StatusOK, s.replies(c)
	case "auth.test":
		return http.StatusOK, map[string]any{
			"ok": true, "url": "https://fake-security-ops.slack.com/", "team": TeamName, "user": BotName,
			"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID, "is_enterprise_install": false,
		}
	}
	return http.StatusNotFound, map[string]any{"ok": false, "error": "unknown_method", "req_method": c.method}
}

// channelFor resolves the channel argument: a user id posts to that user's DM.
func channelFor(ch string) string {
	if strings.HasPrefix(ch, "U") || strings.HasPrefix(ch, "W") {
		return "D" + ch
	}
	return ch
}

// parsePost reads a chat.* call's message arguments; it returns a Slack error for bad input.
func (s *Server) parsePost(c call) (Post, string) {
	p := Post{
		Method: c.method, Channel: channelFor(c.args["channel"]), ThreadTS: c.args["thread_ts"],
		User: c.args["user"], Text: c.args["text"], LinkNames: c.args["link_names"], Parse: c.args["parse"],
		Args: maps.Clone(c.args), JSON: c.json,
	}
	for name, dst := range map[string]*json.RawMessage{"blocks": &p.Blocks, "attachments": &p.Attachments, "metadata": &p.Metadata} {
		raw, ok := c.rawJSON(name)
		if !ok {
			continue
		}
		if !json.Valid(raw) {
			return p, "invalid_" + name
		}
		*dst = raw
	}
	if p.Blocks != nil {
		var blocks []json.RawMessage
		if json.Unmarshal(p.Blocks, &blocks) != nil {
			return p, "invalid_blocks"
		}
	}
	if p.Channel == "" {
		return p, "channel_not_found"
	}
	if p.Text == "" && len(p.Blocks) == 0 && len(p.Attachments) == 0 {
		return p, "no_text"
	}
	return p, ""
}

// nextTS returns a new message timestamp: the fake's clock in microseconds, as Slack's are
// the time of the post, made unique and increasing (a post in the same microsecond as the
// last, or a clock that went back, gets the last plus one). Call with mu held.
func (s *Server) nextTS() string {
	us := s.now().UnixMicro()
	if us <= s.tsSeq {
		us = s.tsSeq + 1
	}
	s.tsSeq = us
	return fmt.Sprintf("%d.%06d", us/1000000, us%1000000)
}

func (s *Server) postMessage(c call) map[string]any {
	p, slackErr := s.parsePost(c)
	if slackErr != "" {
		return fail(slackErr)
	}
	s.mu.Lock()
	p.TS, p.Received = s.nextTS(), s.now()
	s.posts = append(s.posts, p)
	s.current[p.Channel+" "+p.TS] = p
	s.mu.Unlock()
	return map[string]any{"ok": true, "channel": p.Channel, "ts": p.TS, "message": messageJSON(p)}
}

func (s *Server) update(c call) map[string]any {
	p, slackErr := s.parsePost(c)
	if slackErr != "" && slackErr != "no_text" {
		return fail(slackErr)
	}
	p.TS = c.args["ts"]
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.current[p.Channel+" "+p.TS]
	if !ok {
		return fail("message_not_found")
	}
	if slackErr == "no_text" {
		return fail(slackErr)
	}
	// Slack keeps the previous blocks and attachments unless the update carries new ones.
	if _, sent := c.rawJSON("blocks"); !sent {
		p.Blocks = old.Blocks
	}
	if _, sent := c.rawJSON("attachments"); !sent {
		p.Attachments = old.Attachments
	}
	if _, sent := c.rawJSON("metadata"); !sent {
		p.Metadata = old.Metadata
	}
	if p.ThreadTS == "" {
		p.ThreadTS = old.ThreadTS
	}
	p.Received = s.now()
	s.posts = append(s.posts, p)
	s.current[p.Channel+" "+p.TS] = p
	return map[string]any{"ok": true, "channel": p.Channel, "ts": p.TS, "text": p.Text, "message": messageJSON(p)}
}

func (s *Server) postEphemeral(c call) map[string]any {
	p, slackErr := s.parsePost(c)
	if slackErr == "" && p.User == "" {
		slackErr = "user_not_found"
	}
	if slackErr != "" {
		return fail(slackErr)
	}
	s.mu.Lock()
	p.TS, p.Received = s.nextTS(), s.now()
	s.posts = append(s.posts, p)
	s.mu.Unlock()
	return map[string]any{"ok": true, "message_ts": p.TS}
}

// messageJSON is the message object Slack returns for a bot's post.
func messageJSON(p Post) map[string]any {
	m := map[string]any{
		"type": "message", "text": p.Text, "user": BotUserID, "bot_id": BotID, "app_id": AppID,
		"team": TeamID, "ts": p.TS,
	}
	if p.ThreadTS != "" {
		m["thread_ts"] = p.ThreadTS
	}
	if p.Blocks != nil {
		m["blocks"] = p.Blocks
	}
	if p.Attachments != nil {
		m["attachments"] = p.Attachments
	}
	return m
}

func (s *Server) openConversation(c call) map[string]any {
	if ch := c.args["channel"]; ch != "" {
		return map[string]any{"ok": true, "no_op": true, "already_open": true, "channel": map[string]any{"id": ch}}
	}
	var users []string
	for _, u := range strings.Split(c.args["users"], ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		return fail("users_list_not_supplied")
	}
	id := "D" + users[0]
	if len(users) > 1 {
		id = "G" + strings.Join(users, "")
	}
	s.mu.Lock()
	already := s.dms[id]
	s.dms[id] = true
	s.mu.Unlock()

	ch := map[string]any{"id": id}
	if c.args["return_im"] == "true" || c.args["return_im"] == "1" {
		ch = map[string]any{
			"id": id, "created": 1700000000, "is_im": len(users) == 1, "is_mpim": len(users) > 1,
			"is_org_shared": false, "user": users[0], "last_read": "0000000000.000000", "latest": nil,
			"unread_count": 0, "unread_count_display": 0, "is_open": true, "priority": 0,
		}
	}
	return map[string]any{"ok": true, "no_op": already, "already_open": already, "channel": ch}
}
