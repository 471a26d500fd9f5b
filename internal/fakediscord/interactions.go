package fakediscord

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
)

// Interaction response types (Callback.Type).
const (
	ResponsePong                     = 1
	ResponseChannelMessageWithSource = 4
	ResponseDeferredChannelMessage   = 5
	ResponseDeferredUpdateMessage    = 6
	ResponseUpdateMessage            = 7
	ResponseAutocompleteResult       = 8
	ResponseModal                    = 9
)

// respond records an interaction response and its effect on messages. It returns the Discord
// error to answer, if any: 400 40060 when the interaction was already answered, 404 10062 when
// the token belongs to another interaction.
func (s *Server) respond(interactionID, token string, body []byte, files []string, viaHTTP bool) (status, code int, message string) {
	var cb struct {
		Type int             `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &cb) != nil || cb.Type == 0 {
		return http.StatusBadRequest, 50035, "Invalid Form Body"
	}
	s.mu.Lock()
	it, ok := s.interactions[token]
	switch {
	case !ok:
		// An interaction the fake did not deliver (gateway mode): take it on trust.
		it = &interaction{id: interactionID, token: token}
		s.interactions[token] = it
	case it.id != interactionID:
		s.mu.Unlock()
		return http.StatusNotFound, 10062, "Unknown interaction"
	case it.responded:
		s.mu.Unlock()
		return http.StatusBadRequest, 40060, "Interaction has already been acknowledged."
	}
	now := s.now()
	it.responded = cb.Type != ResponsePong
	s.callbacks = append(s.callbacks, Callback{
		InteractionID: interactionID, Token: token, Type: cb.Type, Data: slices.Clone(cb.Data),
		Payload: slices.Clone(body), ViaHTTP: viaHTTP, Received: now,
	})
	data := payload{raw: cb.Data, files: files}
	if len(data.raw) == 0 || string(data.raw) == "null" {
		data.raw = json.RawMessage("{}")
	}
	_ = json.Unmarshal(data.raw, &data.fields)
	switch cb.Type {
	case ResponseChannelMessageWithSource, ResponseDeferredChannelMessage:
		m := Message{Op: OpResponse, ChannelID: it.channelID, InteractionToken: token}
		data.apply(&m)
		if cb.Type == ResponseDeferredChannelMessage {
			m.Flags |= flagLoading
		}
		m.ID, m.Received = s.nextID(), now
		s.current[m.ID] = &stored{msg: m, created: now, webhook: true}
		s.messages = append(s.messages, m)
		it.originalID = m.ID
	case ResponseUpdateMessage, ResponseDeferredUpdateMessage:
		it.originalID = it.messageID
		if st, known := s.current[it.messageID]; known && cb.Type == ResponseUpdateMessage {
			m := st.msg.clone()
			m.Op, m.Files, m.InteractionToken = OpUpdate, nil, token
			data.apply(&m)
			m.Received = now
			m.Files = append(slices.Clone(st.msg.Files), m.Files...)
			st.msg, st.edited = m, now
			s.messages = append(s.messages, m)
		}
	}
	s.mu.Unlock()
	s.changes.Notify()
	return 0, 0, ""
}

func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) {
	p, err := readPayload(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, 50109, "The request body contains invalid JSON.")
		return
	}
	if status, code, msg := s.respond(r.PathValue("interaction"), r.PathValue("token"), p.raw, p.files, false); status != 0 {
		writeError(w, status, code, msg)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// webhookInteraction finds the interaction behind /webhooks/{app}/{token}, or answers the error.
func (s *Server) webhookInteraction(w http.ResponseWriter, r *http.Request) (*interaction, bool) {
	if r.PathValue("app") != s.appID {
		writeError(w, http.StatusNotFound, 10015, "Unknown Webhook")
		return nil, false
	}
	s.mu.Lock()
	it, ok := s.interactions[r.PathValue("token")]
	ok = ok && it.responded
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusUnauthorized, 50027, "Invalid Webhook Token")
		return nil, false
	}
	return it, true
}

// messageOf resolves @original or a followup id to a message id of the interaction.
func (s *Server) messageOf(it *interaction, ref string) (id, op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref == "@original" {
		return it.originalID, OpEditOriginal
	}
	if slices.Contains(it.followups, ref) {
		return ref, OpEditFollowup
	}
	if ref == it.originalID {
		return ref, OpEditOriginal
	}
	return "", ""
}

func (s *Server) handleGetWebhookMessage(w http.ResponseWriter, r *http.Request) {
	it, ok := s.webhookInteraction(w, r)
	if !ok {
		return
	}
	id, _ := s.messageOf(it, r.PathValue("message"))
	s.mu.Lock()
	st, ok := s.current[id]
	var out map[string]any
	if ok {
		out = s.messageJSON(st)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, 10008, "Unknown Message")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleEditWebhookMessage(w http.ResponseWriter, r *http.Request) {
	it, ok := s.webhookInteraction(w, r)
	if !ok {
		return
	}
	p, err := readPayload(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, 50109, "The request body contains invalid JSON.")
		return
	}
	id, op := s.messageOf(it, r.PathValue("message"))
	s.edit(w, id, op, p, func(st *stored) bool {
		if st.msg.InteractionToken == "" {
			st.msg.InteractionToken = it.token // a component's message, answered with type 6 or 7
		}
		return true
	})
}

func (s *Server) handleFollowup(w http.ResponseWriter, r *http.Request) {
	it, ok := s.webhookInteraction(w, r)
	if !ok {
		return
	}
	p, err := readPayload(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, 50109, "The request body contains invalid JSON.")
		return
	}
	m := Message{Op: OpFollowup, ChannelID: it.channelID, InteractionToken: it.token}
	p.apply(&m)
	if checkMessage(w, p, m, true) {
		return
	}
	// Interaction followups always answer with the message, whatever ?wait says.
	m = s.create(w, m, true)
	s.mu.Lock()
	it.followups = append(it.followups, m.ID)
	s.mu.Unlock()
}

// SendInteraction plays Discord delivering an interaction to the bot's HTTP endpoint url: it
// signs payload (an interaction object with at least "id" and "token") with key, the
// application's Ed25519 private key, sets X-Signature-Ed25519 and X-Signature-Timestamp, and
// posts it. A 200 answer carrying an interaction response is recorded as the interaction's
// response (a Callback with ViaHTTP), so later edits of @original and followups work. It
// returns the bot's answer; err reports a malformed payload or a failed request.
func (s *Server) SendInteraction(ctx context.Context, url string, key ed25519.PrivateKey, payload []byte) (status int, body []byte, err error) {
	var in struct {
		ID        string `json:"id"`
		Token     string `json:"token"`
		ChannelID string `json:"channel_id"`
		Channel   struct {
			ID string `json:"id"`
		} `json:"channel"`
		Message struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	if err := json.Unmarshal(payload, &in); err != nil || in.ID == "" || in.Token == "" {
		return 0, nil, fmt.Errorf("fakediscord: interaction payload needs an id and a token: %v", err)
	}
	if in.ChannelID == "" {
		in.ChannelID = in.Channel.ID
	}
	s.mu.Lock()
	if _, seen := s.interactions[in.Token]; !seen {
		s.interactions[in.Token] = &interaction{id: in.ID, token: in.Token, channelID: in.ChannelID, messageID: in.Message.ID}
	}
	client, ts := s.client, strconv.FormatInt(s.now().Unix(), 10)
	s.mu.Unlock()

	sig := ed25519.Sign(key, append([]byte(ts), payload...))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, fmt.Errorf("fakediscord: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Discord-Interactions/1.0 (+https://discord.com)")
	req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(sig))
	req.Header.Set("X-Signature-Timestamp", ts)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("fakediscord: interaction to %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("fakediscord: reading the answer: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		if status, code, msg := s.respond(in.ID, in.Token, body, nil, true); status != 0 {
			return resp.StatusCode, body, fmt.Errorf("fakediscord: the bot's answer is not a valid interaction response: %d %d %s", status, code, msg)
		}
	}
	return resp.StatusCode, body, nil
}
