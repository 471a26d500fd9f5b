package fakediscord

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// The fake gateway: enough of Discord's gateway protocol for discordgo's
// Open to connect and stay connected (Hello, Identify or Resume, READY or
// RESUMED, heartbeats acknowledged). It dispatches no events; a test
// counts who is connected. A *Gateway is served by its own httptest
// server (a websocket cannot pass through the REST fake's recorder), and
// the REST fake tells clients its address (EnableGateway):
//
//	gw := fakediscord.NewGateway(token)
//	gws := httptest.NewServer(gw)
//	fake.EnableGateway("ws://" + gws.Listener.Addr().String())

// Gateway is a fake Discord gateway for the bot with one token.
type Gateway struct {
	token string
	// mu guards the fields that follow.
	mu         sync.Mutex
	open       int // connections now open
	identifies int // Identify packets received (new sessions)
	resumes    int // Resume packets received
	seq        int
	changed    chan struct{}
}

// NewGateway returns a fake gateway that accepts the bot token botToken
// (without "Bot ").
func NewGateway(botToken string) *Gateway { return &Gateway{token: botToken} }

// EnableGateway makes GET /api/v{N}/gateway answer with wsURL, the
// address the test serves Gateway on (ws://host:port).
func (s *Server) EnableGateway(wsURL string) {
	s.mux.HandleFunc("GET /api/{v}/gateway", s.openRoute(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"url": wsURL})
	}))
}

// Connections is how many gateway connections are open now.
func (g *Gateway) Connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

// Sessions is how many sessions were identified (new) and resumed since
// the start.
func (g *Gateway) Sessions() (identified, resumed int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.identifies, g.resumes
}

// Changed returns a channel closed at the next connect or disconnect.
func (g *Gateway) Changed() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return g.changed
}

// notify wakes Changed's waiters; g.mu must be held.
func (g *Gateway) notify() {
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

var gatewayUpgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// gatewayPacket is a gateway payload as Discord frames it.
type gatewayPacket struct {
	Op   int             `json:"op"`
	D    json.RawMessage `json:"d,omitempty"`
	S    int             `json:"s,omitempty"`
	Type string          `json:"t,omitempty"`
}

// ServeHTTP serves one gateway connection.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := gatewayUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	if err := conn.WriteJSON(map[string]any{"op": 10, "d": map[string]any{"heartbeat_interval": 41250}}); err != nil {
		return
	}
	var first struct {
		Op int `json:"op"`
		D  struct {
			Token string `json:"token"`
		} `json:"d"`
	}
	if err := conn.ReadJSON(&first); err != nil {
		return
	}
	if first.D.Token != "Bot "+g.token {
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4004, "Authentication failed."))
		return
	}
	g.mu.Lock()
	g.seq++
	seq := g.seq
	var reply gatewayPacket
	switch first.Op {
	case 2:
		g.identifies++
		d, _ := json.Marshal(map[string]any{
			"v": 10, "session_id": fmt.Sprintf("fake-session-%d", seq),
			"user":   map[string]any{"id": "1", "username": "muster", "bot": true},
			"guilds": []any{},
		})
		reply = gatewayPacket{Op: 0, S: seq, Type: "READY", D: d}
	case 6:
		g.resumes++
		reply = gatewayPacket{Op: 0, S: seq, Type: "RESUMED", D: json.RawMessage(`{}`)}
	default:
		g.mu.Unlock()
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4003, "Not authenticated."))
		return
	}
	g.open++
	g.notify()
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.open--
		g.notify()
		g.mu.Unlock()
	}()
	if err := conn.WriteJSON(reply); err != nil {
		return
	}
	for {
		var p gatewayPacket
		if err := conn.ReadJSON(&p); err != nil {
			return
		}
		if p.Op == 1 {
			if err := conn.WriteJSON(map[string]any{"op": 11}); err != nil {
				return
			}
		}
	}
}
