package fakeslack

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// socketMode is the fake's Socket Mode: apps.connections.open with the app-level token hands
// out a ws:// URL on the fake itself; the client that dials it gets a hello, and the test pushes
// slash commands and interactions down it and reads the client's acknowledgements.
type socketMode struct {
	// mu guards the fields that follow.
	mu       sync.Mutex
	appToken string
	conn     *websocket.Conn // the connected client, nil when none
	writeMu  sync.Mutex      // serializes writes to conn
	envSeq   int
	acks     map[string]json.RawMessage // envelope id -> the ack's payload ("null" when none)
	opened   int                        // apps.connections.open calls that succeeded
}

// EnableSocketMode makes apps.connections.open accept appToken (an xapp-... app-level token) and
// serve Socket Mode connections.
func (s *Server) EnableSocketMode(appToken string) {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	s.sock.appToken = appToken
	if s.sock.acks == nil {
		s.sock.acks = map[string]json.RawMessage{}
	}
	s.mux.HandleFunc("GET /socket/{id}", s.handleSocket)
}

// openConnection answers apps.connections.open: ok with a ws:// URL when the call carries the
// app-level token, not_allowed_token_type for the bot token, invalid_auth otherwise.
func (s *Server) openConnection(c call, host string) map[string]any {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	switch {
	case c.token == "":
		return fail("not_authed")
	case s.sock.appToken != "" && subtle.ConstantTimeCompare([]byte(c.token), []byte(s.sock.appToken)) == 1:
		s.sock.opened++
		return map[string]any{"ok": true, "url": fmt.Sprintf("ws://%s/socket/%d", host, s.sock.opened)}
	case subtle.ConstantTimeCompare([]byte(c.token), []byte(s.botToken)) == 1:
		return fail("not_allowed_token_type")
	}
	return fail("invalid_auth")
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	hello := map[string]any{
		"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": AppID},
		"debug_info":      map[string]any{"host": "fake", "approximate_connection_time": 3600},
	}
	s.sock.mu.Lock()
	if old := s.sock.conn; old != nil {
		_ = old.Close()
	}
	s.sock.conn = conn
	s.sock.mu.Unlock()
	if err := s.writeSocket(conn, hello); err != nil {
		return
	}
	s.changes.Notify()
	defer func() {
		s.sock.mu.Lock()
		if s.sock.conn == conn {
			s.sock.conn = nil
		}
		s.sock.mu.Unlock()
		_ = conn.Close()
		s.changes.Notify()
	}()
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := conn.ReadJSON(&ack); err != nil {
			return
		}
		if ack.Payload == nil {
			ack.Payload = json.RawMessage("null")
		}
		s.sock.mu.Lock()
		s.sock.acks[ack.EnvelopeID] = ack.Payload
		s.sock.mu.Unlock()
		s.changes.Notify()
	}
}

func (s *Server) writeSocket(conn *websocket.Conn, v any) error {
	s.sock.writeMu.Lock()
	defer s.sock.writeMu.Unlock()
	return conn.WriteJSON(v)
}

// SocketConnected reports whether a Socket Mode client is connected.
func (s *Server) SocketConnected() bool {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	return s.sock.conn != nil
}

// ErrNoSocket: no Socket Mode client is connected.
var ErrNoSocket = errors.New("fakeslack: no socket mode client connected")

// SendSlashCommand pushes a slash command (its fields as Slack names them: command, text,
// user_id, channel_id, response_url, ...) to the connected Socket Mode client, waiting up to
// ctx for the client to connect, and returns the payload of its acknowledgement (the command's
// answer; "null" when it acknowledged with none).
func (s *Server) SendSlashCommand(ctx context.Context, fields map[string]string) (json.RawMessage, error) {
	return s.sendEnvelope(ctx, "slash_commands", fields)
}

// SendInteraction pushes an interaction payload (block_actions, ...) to the connected Socket
// Mode client and waits for its acknowledgement.
func (s *Server) SendInteraction(ctx context.Context, payload any) (json.RawMessage, error) {
	return s.sendEnvelope(ctx, "interactive", payload)
}

func (s *Server) sendEnvelope(ctx context.Context, typ string, payload any) (json.RawMessage, error) {
	if err := s.WaitFor(ctx, s.SocketConnected); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoSocket, err)
	}
	s.sock.mu.Lock()
	conn := s.sock.conn
	s.sock.envSeq++
	id := fmt.Sprintf("env-%d", s.sock.envSeq)
	s.sock.mu.Unlock()
	if conn == nil {
		return nil, ErrNoSocket
	}
	env := map[string]any{"envelope_id": id, "type": typ, "accepts_response_payload": typ == "slash_commands", "payload": payload}
	if err := s.writeSocket(conn, env); err != nil {
		return nil, fmt.Errorf("fakeslack: socket write: %w", err)
	}
	var got json.RawMessage
	err := s.WaitFor(ctx, func() bool {
		s.sock.mu.Lock()
		defer s.sock.mu.Unlock()
		got = s.sock.acks[id]
		return got != nil
	})
	return got, err
}
