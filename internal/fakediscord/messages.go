package fakediscord

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"
)

// payload is a message body: JSON, or the payload_json part of a multipart body.
type payload struct {
	raw    json.RawMessage
	fields map[string]json.RawMessage
	files  []string
}

// flagLoading marks a deferred interaction response that is still "thinking".
const flagLoading = 1 << 7

var errNotObject = errors.New("body is not a JSON object")

// readPayload reads a JSON or multipart/form-data (payload_json plus files[n]) body.
func readPayload(r *http.Request) (payload, error) {
	var p payload
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ctype == "multipart/form-data" {
		if err := r.ParseMultipartForm(maxBody); err != nil {
			return p, err
		}
		if v := r.MultipartForm.Value["payload_json"]; len(v) > 0 {
			p.raw = json.RawMessage(v[0])
		}
		for _, field := range slices.Sorted(maps.Keys(r.MultipartForm.File)) {
			for _, fh := range r.MultipartForm.File[field] {
				p.files = append(p.files, fh.Filename)
			}
		}
	} else {
		var err error
		if p.raw, err = readAll(r); err != nil {
			return p, err
		}
	}
	if len(p.raw) == 0 {
		p.raw = json.RawMessage("{}")
	}
	if json.Unmarshal(p.raw, &p.fields) != nil || p.fields == nil {
		return p, errNotObject
	}
	return p, nil
}

func readAll(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, maxBody))
}

// apply copies the message fields present in the payload onto m: a creation takes them all,
// an edit replaces only those sent.
func (p payload) apply(m *Message) {
	m.Payload = slices.Clone(p.raw)
	if v, ok := p.fields["content"]; ok {
		m.Content = ""
		_ = json.Unmarshal(v, &m.Content)
	}
	for name, dst := range map[string]*json.RawMessage{"embeds": &m.Embeds, "components": &m.Components, "allowed_mentions": &m.AllowedMentions} {
		if v, ok := p.fields[name]; ok {
			*dst = slices.Clone(v)
		}
	}
	if v, ok := p.fields["flags"]; ok {
		_ = json.Unmarshal(v, &m.Flags)
	}
	m.Files = append(m.Files, p.files...)
}

// arrayLen returns the length of a JSON array, 0 for null or anything else.
func arrayLen(raw json.RawMessage) int {
	var a []json.RawMessage
	if json.Unmarshal(raw, &a) != nil {
		return 0
	}
	return len(a)
}

// checkMessage answers Discord's error for a message it would refuse, and reports whether it did.
func checkMessage(w http.ResponseWriter, p payload, m Message, creating bool) bool {
	switch {
	case utf8.RuneCountInString(m.Content) > 2000:
		writeFormError(w, "content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
	case arrayLen(m.Embeds) > 10:
		writeFormError(w, "embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
	case arrayLen(m.Components) > 5:
		writeFormError(w, "components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
	case creating && m.Content == "" && arrayLen(m.Embeds) == 0 && arrayLen(m.Components) == 0 &&
		len(m.Files) == 0 && arrayLen(p.fields["sticker_ids"]) == 0 && p.fields["poll"] == nil:
		writeError(w, http.StatusBadRequest, 50006, "Cannot send an empty message")
	default:
		return false
	}
	return true
}

// create records a new message and answers its JSON. Call without mu held.
func (s *Server) create(w http.ResponseWriter, m Message, webhook bool) Message {
	s.mu.Lock()
	now := s.now()
	m.ID, m.Received = s.nextID(), now
	st := &stored{msg: m, created: now, webhook: webhook}
	s.current[m.ID] = st
	s.messages = append(s.messages, m)
	out := s.messageJSON(st)
	s.mu.Unlock()
	if w != nil {
		writeJSON(w, http.StatusOK, out)
	}
	return m
}

// edit applies p to the stored message id and answers its JSON; it answers 404 Unknown
// Message when accept rejects the stored message or there is none. Call without mu held.
func (s *Server) edit(w http.ResponseWriter, id, op string, p payload, accept func(*stored) bool) {
	s.mu.Lock()
	st, ok := s.current[id]
	if !ok || (accept != nil && !accept(st)) {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, 10008, "Unknown Message")
		return
	}
	m := st.msg.clone()
	m.Op, m.Files = op, nil
	if op == OpEditOriginal {
		m.Flags &^= flagLoading // the deferred response is no longer "thinking"
	}
	p.apply(&m)
	if checkMessage(w, p, m, false) {
		s.mu.Unlock()
		return
	}
	m.Received = s.now()
	m.Files = append(slices.Clone(st.msg.Files), m.Files...)
	st.msg, st.edited = m, m.Received
	s.messages = append(s.messages, m)
	out := s.messageJSON(st)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreateMessage(w http.ResponseWriter, r *http.Request) {
	p, err := readPayload(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, 50109, "The request body contains invalid JSON.")
		return
	}
	m := Message{Op: OpCreate, ChannelID: r.PathValue("channel")}
	p.apply(&m)
	nonce, enforce, ok := readNonce(w, p)
	if !ok || checkMessage(w, p, m, true) {
		return
	}
	m.Nonce = nonce
	if enforce && nonce != "" {
		s.mu.Lock()
		if first := s.byNonce(nonce); first != nil {
			// The same author sent this nonce within NonceWindow: Discord
			// answers with that message and creates nothing.
			out := s.messageJSON(first)
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, out)
			return
		}
		s.mu.Unlock()
	}
	s.create(w, m, false)
}

// NonceWindow is how long the fake remembers a nonce for enforce_nonce. Discord says "the past
// few minutes"; the fake takes the short end, so muster relies on no more than that.
const NonceWindow = 2 * time.Minute

// maxNonce is the longest nonce Discord takes.
const maxNonce = 25

// readNonce reads a create's nonce (a string or an integer, at most 25 characters) and
// enforce_nonce; it answers Discord's form error and reports false for a bad one.
func readNonce(w http.ResponseWriter, p payload) (nonce string, enforce, ok bool) {
	if raw, has := p.fields["nonce"]; has && string(raw) != "null" {
		var n json.Number
		if json.Unmarshal(raw, &nonce) != nil {
			if json.Unmarshal(raw, &n) != nil {
				writeFormError(w, "nonce", "BASE_TYPE_BAD_TYPE", "Must be a string or an integer.")
				return "", false, false
			}
			nonce = n.String()
		}
		if utf8.RuneCountInString(nonce) > maxNonce {
			writeFormError(w, "nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
			return "", false, false
		}
	}
	if raw, has := p.fields["enforce_nonce"]; has {
		_ = json.Unmarshal(raw, &enforce)
	}
	return nonce, enforce, true
}

// byNonce is the bot's message created with nonce within NonceWindow, or nil. Call with mu
// held.
func (s *Server) byNonce(nonce string) *stored {
	now := s.now()
	for _, st := range s.current {
		if !st.webhook && st.msg.Nonce == nonce && now.Sub(st.created) < NonceWindow {
			return st
		}
	}
	return nil
}

func (s *Server) handleEditMessage(w http.ResponseWriter, r *http.Request) {
	p, err := readPayload(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, 50109, "The request body contains invalid JSON.")
		return
	}
	channel := r.PathValue("channel")
	s.edit(w, r.PathValue("message"), OpEdit, p, func(st *stored) bool { return st.msg.ChannelID == channel })
}

func (s *Server) handleCreateDM(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RecipientID string `json:"recipient_id"`
	}
	raw, _ := readAll(r)
	if json.Unmarshal(raw, &body) != nil || body.RecipientID == "" {
		writeFormError(w, "recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
		return
	}
	s.mu.Lock()
	id, ok := s.dms[body.RecipientID]
	if !ok {
		id = s.nextID()
		s.dms[body.RecipientID] = id
	}
	s.mu.Unlock()
	if !ok {
		s.changes.Notify()
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "type": 1, "flags": 0, "last_message_id": nil,
		"recipients": []any{map[string]any{
			"id": body.RecipientID, "username": "user" + body.RecipientID, "discriminator": "0",
			"global_name": nil, "avatar": nil,
		}},
	})
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	me := s.botUser()
	me["verified"], me["mfa_enabled"], me["flags"] = true, false, 0
	writeJSON(w, http.StatusOK, me)
}

func (s *Server) botUser() map[string]any {
	return map[string]any{
		"id": s.appID, "username": BotName, "discriminator": "0", "global_name": nil,
		"avatar": nil, "bot": true, "public_flags": 0,
	}
}

// timestamp formats t as Discord does (ISO 8601 with microseconds).
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000+00:00")
}

// rawArray returns raw, or an empty array when it is absent or null.
func rawArray(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("[]")
	}
	return raw
}

// messageJSON is Discord's message object for a stored message. Call with mu held.
func (s *Server) messageJSON(st *stored) map[string]any {
	m := st.msg
	attachments := []any{}
	for _, name := range m.Files {
		attachments = append(attachments, map[string]any{"id": s.nextID(), "filename": name, "size": 0,
			"url": "https://cdn.discordapp.com/attachments/" + m.ChannelID + "/" + m.ID + "/" + name})
	}
	var edited any
	if !st.edited.IsZero() {
		edited = timestamp(st.edited)
	}
	out := map[string]any{
		"id": m.ID, "channel_id": m.ChannelID, "type": 0, "content": m.Content, "author": s.botUser(),
		"attachments": attachments, "embeds": rawArray(m.Embeds), "components": rawArray(m.Components),
		"mentions": []any{}, "mention_roles": []any{}, "mention_everyone": false, "pinned": false,
		"tts": false, "timestamp": timestamp(st.created), "edited_timestamp": edited, "flags": m.Flags,
	}
	if m.Nonce != "" {
		out["nonce"] = m.Nonce
	}
	if st.webhook {
		out["webhook_id"], out["application_id"] = s.appID, s.appID
	}
	return out
}
