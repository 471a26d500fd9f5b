package fakeslack

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxResponseUses is how often Slack lets an app use one response_url.
const maxResponseUses = 5

// Response is one message posted to a response_url.
type Response struct {
	ID              string // the id in /response/{id}
	Text            string
	ResponseType    string // "in_channel" or "ephemeral" ("" when not sent)
	ReplaceOriginal bool
	DeleteOriginal  bool
	ThreadTS        string
	Blocks          json.RawMessage // nil when absent
	Body            json.RawMessage // the whole JSON body as sent
	Received        time.Time
}

// ResponseURL makes a new response_url served by the fake, for use in a slash command or
// interaction payload. base is the fake's own URL (httptest.Server.URL). Like Slack's, the
// URL takes up to five posts.
func (s *Server) ResponseURL(base string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idSeq++
	id := fmt.Sprintf("%s-%d", TeamID, s.idSeq)
	s.respURLs[id] = 0
	return strings.TrimSuffix(base, "/") + "/response/" + id
}

// Responses returns everything posted to response URLs, oldest first.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Response, len(s.responses))
	for i, r := range s.responses {
		r.Blocks, r.Body = slices.Clone(r.Blocks), slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

func (s *Server) handleResponse(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	uses, known := s.respURLs[id]
	if known && uses < maxResponseUses {
		s.respURLs[id]++
	}
	s.mu.Unlock()
	switch {
	case !known:
		writeJSON(w, http.StatusNotFound, fail("expired_url"))
		return
	case uses >= maxResponseUses:
		writeJSON(w, http.StatusNotFound, fail("used_url"))
		return
	}

	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	var msg struct {
		Text            string          `json:"text"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
		DeleteOriginal  bool            `json:"delete_original"`
		ThreadTS        string          `json:"thread_ts"`
		Blocks          json.RawMessage `json:"blocks"`
	}
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ctype != "application/json" || json.Unmarshal(body, &msg) != nil {
		writeJSON(w, http.StatusBadRequest, fail("invalid_payload"))
		return
	}
	if string(msg.Blocks) == "null" {
		msg.Blocks = nil
	}
	s.mu.Lock()
	s.responses = append(s.responses, Response{
		ID: id, Text: msg.Text, ResponseType: msg.ResponseType, ReplaceOriginal: msg.ReplaceOriginal,
		DeleteOriginal: msg.DeleteOriginal, ThreadTS: msg.ThreadTS, Blocks: msg.Blocks, Body: body,
		Received: s.now(),
	})
	s.mu.Unlock()
	s.changes.Notify()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}
