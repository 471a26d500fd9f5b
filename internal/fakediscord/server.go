package fakediscord

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/muster-ops/muster/internal/fakewait"
)

// BotName is the bot user's name in the fake's answers.
const BotName = "muster"

// discordEpoch is the first millisecond of 2015, where Discord snowflakes start.
const discordEpoch = 1420070400000

// maxBody bounds how much of a request body the fake reads.
const maxBody = 8 << 20

// apiVersion matches the version segment of /api/v{N}/.
var apiVersion = regexp.MustCompile(`^v[0-9]+$`)

// Server is a fake Discord REST API. Create it with New; it is safe for concurrent use.
type Server struct {
	botToken string
	appID    string
	mux      *http.ServeMux
	changes  fakewait.Changes

	// mu guards the fields that follow.
	mu           sync.Mutex
	now          func() time.Time
	client       *http.Client
	lastID       uint64
	messages     []Message               // every create and edit, in order
	current      map[string]*stored      // message id -> the message as it stands now
	dms          map[string]string       // user id -> DM channel id
	interactions map[string]*interaction // interaction token -> its state
	callbacks    []Callback
	commandSets  []CommandSet
	requests     []Request
	rateLimits   []rateLimit
	failures     []failure
}

// Kinds of message change (Message.Op).
const (
	OpCreate       = "create"        // POST /channels/{id}/messages
	OpEdit         = "edit"          // PATCH /channels/{id}/messages/{mid}
	OpResponse     = "response"      // an interaction callback that creates the original response (types 4 and 5)
	OpUpdate       = "update"        // an interaction callback that edits the component's message (type 7)
	OpEditOriginal = "edit_original" // PATCH /webhooks/{app}/{token}/messages/@original
	OpFollowup     = "followup"      // POST /webhooks/{app}/{token}
	OpEditFollowup = "edit_followup" // PATCH /webhooks/{app}/{token}/messages/{mid}
)

// Message is one change to a message: its creation or an edit, through any route.
type Message struct {
	Op               string // OpCreate, OpEdit, ...
	ID               string // the message's id (snowflake)
	ChannelID        string // "" when the fake does not know the channel (an interaction it did not deliver)
	InteractionToken string // for interaction responses and followups
	Content          string
	Embeds           json.RawMessage // as sent: nil when absent, "null" when sent as null
	Components       json.RawMessage // as sent: nil when absent, "null" when sent as null
	AllowedMentions  json.RawMessage // as sent: nil when absent, "null" when sent as null
	Flags            int
	Nonce            string          // the create's nonce, "" when none was sent
	Files            []string        // names of attached files
	Payload          json.RawMessage // the whole JSON payload (payload_json of a multipart body)
	Received         time.Time
}

// Callback is one answer to an interaction, through the callback route or as the HTTP
// answer to SendInteraction.
type Callback struct {
	InteractionID string
	Token         string
	Type          int             // 1 pong, 4 message, 5 deferred message, 6 deferred update, 7 update, 8 autocomplete, 9 modal
	Data          json.RawMessage // nil when absent
	Payload       json.RawMessage // the whole body
	ViaHTTP       bool            // the bot answered SendInteraction's request rather than calling the callback route
	Received      time.Time
}

// CommandSet is one bulk overwrite of application commands.
type CommandSet struct {
	GuildID  string          // "" for global commands
	Names    []string        // the command names, in order
	Body     json.RawMessage // the array as sent
	Received time.Time
}

// Request is one HTTP request the fake received, whatever it answered.
type Request struct {
	Method        string
	Path          string
	Query         string
	Authorization string // the Authorization header as sent
	Body          []byte
	Status        int // the HTTP status answered
	Code          int // the Discord error code answered (0 on success and for some errors)
	Received      time.Time
}

// stored is a message as it stands, with what its JSON needs beyond the last change.
type stored struct {
	msg     Message
	created time.Time
	edited  time.Time
	webhook bool // sent through an interaction webhook
}

// interaction is what the fake knows of one interaction, by token.
type interaction struct {
	id         string
	token      string
	channelID  string
	messageID  string // the message a component interaction came from
	responded  bool
	originalID string   // the original response's message id, once there is one
	followups  []string // followup message ids
}

// New returns a fake Discord for the bot with token botToken (without the "Bot " prefix) in
// the application appID. The bot user's id is appID, as for most Discord bots.
func New(botToken, appID string) *Server {
	s := &Server{
		botToken:     botToken,
		appID:        appID,
		now:          time.Now,
		client:       &http.Client{Timeout: 15 * time.Second},
		current:      map[string]*stored{},
		dms:          map[string]string{},
		interactions: map[string]*interaction{},
	}
	s.mux = http.NewServeMux()
	bot := func(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, s.botRoute(h)) }
	open := func(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, s.openRoute(h)) }
	bot("POST /api/{v}/channels/{channel}/messages", s.handleCreateMessage)
	bot("PATCH /api/{v}/channels/{channel}/messages/{message}", s.handleEditMessage)
	bot("POST /api/{v}/users/@me/channels", s.handleCreateDM)
	bot("GET /api/{v}/users/@me", s.handleMe)
	bot("PUT /api/{v}/applications/{app}/commands", s.handleCommands)
	bot("PUT /api/{v}/applications/{app}/guilds/{guild}/commands", s.handleCommands)
	open("POST /api/{v}/interactions/{interaction}/{token}/callback", s.handleCallback)
	open("GET /api/{v}/webhooks/{app}/{token}/messages/{message}", s.handleGetWebhookMessage)
	open("PATCH /api/{v}/webhooks/{app}/{token}/messages/{message}", s.handleEditWebhookMessage)
	open("POST /api/{v}/webhooks/{app}/{token}", s.handleFollowup)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, 0, "404: Not Found")
	})
	return s
}

// ServeHTTP serves the fake Discord REST API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	received := s.now()
	s.mu.Unlock()

	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(rec, r)

	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Authorization: r.Header.Get("Authorization"),
		Body: body, Status: rec.status, Code: rec.code, Received: received,
	})
	s.mu.Unlock()
	s.changes.Notify()
}

// botRoute wraps a handler that needs the bot's token.
func (s *Server) botRoute(h http.HandlerFunc) http.HandlerFunc { return s.route(h, true) }

// openRoute wraps a handler that needs no authorization (interactions and webhooks).
func (s *Server) openRoute(h http.HandlerFunc) http.HandlerFunc { return s.route(h, false) }

// route checks the API version and, for bot routes, the token; then it applies scripted
// failures before h runs.
func (s *Server) route(h http.HandlerFunc, bot bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !apiVersion.MatchString(r.PathValue("v")) {
			writeError(w, http.StatusNotFound, 0, "404: Not Found")
			return
		}
		if bot && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bot "+s.botToken)) != 1 {
			writeError(w, http.StatusUnauthorized, 0, "401: Unauthorized")
			return
		}
		if rl, ok := s.takeRateLimit(); ok {
			writeRateLimited(w, rl)
			return
		}
		if f, ok := s.takeFailure(); ok {
			writeError(w, f.status, f.code, f.message)
			return
		}
		h(w, r)
	}
}

// SetClock makes the fake read the time from now (snowflakes, timestamps, signatures).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetHTTPClient sets the client SendInteraction uses to reach the bot.
func (s *Server) SetHTTPClient(c *http.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client = c
}

// nextID returns a new snowflake, larger than every earlier one. Call with mu held.
func (s *Server) nextID() string {
	ms := max(s.now().UnixMilli()-discordEpoch, 0)
	id := uint64(ms) << 22
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	return strconv.FormatUint(id, 10)
}

// Messages returns every message change (creations and edits, through any route), oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = m.clone()
	}
	return out
}

// Message returns the message with the given id as it stands after every edit (its Op is
// that of the last change).
func (s *Server) Message(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.current[id]
	if !ok {
		return Message{}, false
	}
	return st.msg.clone(), true
}

// Callbacks returns every interaction response, oldest first.
func (s *Server) Callbacks() []Callback {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Callback, len(s.callbacks))
	for i, c := range s.callbacks {
		c.Data, c.Payload = slices.Clone(c.Data), slices.Clone(c.Payload)
		out[i] = c
	}
	return out
}

// CommandSets returns every bulk overwrite of application commands, oldest first.
func (s *Server) CommandSets() []CommandSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CommandSet, len(s.commandSets))
	for i, c := range s.commandSets {
		c.Names, c.Body = slices.Clone(c.Names), slices.Clone(c.Body)
		out[i] = c
	}
	return out
}

// DMChannels returns the DM channels opened so far, by user id.
func (s *Server) DMChannels() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.dms)
}

// Requests returns every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

func (m Message) clone() Message {
	m.Embeds, m.Components = slices.Clone(m.Embeds), slices.Clone(m.Components)
	m.AllowedMentions, m.Payload = slices.Clone(m.AllowedMentions), slices.Clone(m.Payload)
	m.Files = slices.Clone(m.Files)
	return m
}

// writeError answers with Discord's error shape: {"message": "...", "code": N}.
func writeError(w http.ResponseWriter, status, code int, message string) {
	if rec, ok := w.(*recorder); ok {
		rec.code = code
	}
	writeJSON(w, status, map[string]any{"message": message, "code": code})
}

// writeFormError answers 400 Invalid Form Body (50035) with one field error, as Discord
// does; field is a dotted path ("0.name") that becomes nested objects.
func writeFormError(w http.ResponseWriter, field, code, message string) {
	if rec, ok := w.(*recorder); ok {
		rec.code = 50035
	}
	var errs any = map[string]any{"_errors": []any{map[string]any{"code": code, "message": message}}}
	parts := strings.Split(field, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		errs = map[string]any{parts[i]: errs}
	}
	writeJSON(w, http.StatusBadRequest, map[string]any{"code": 50035, "message": "Invalid Form Body", "errors": errs})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// recorder remembers the status and Discord error code of an answer.
type recorder struct {
	http.ResponseWriter
	status int
	code   int
}

// WriteHeader records status and passes it on.
func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
