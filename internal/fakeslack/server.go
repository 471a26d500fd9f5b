package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/muster-ops/muster/internal/fakewait"
)

// The identity of the fake workspace and its bot, as auth.test reports it and posts carry it.
const (
	TeamID    = "T0FAKE0001"
	TeamName  = "Fake Security Ops"
	BotUserID = "U0FAKEBOT1"
	BotID     = "B0FAKEBOT1"
	AppID     = "A0FAKEAPP1"
	BotName   = "muster"
)

// maxBody bounds how much of a request body the fake reads.
const maxBody = 1 << 20

// Server is a fake Slack Web API. Create it with New; it is safe for concurrent use.
type Server struct {
	botToken string
	mux      *http.ServeMux
	changes  fakewait.Changes
	door     fakewait.Door // holds Web API calls (Hold)
	answers  fakewait.Door // holds the answers to accepted posts (HoldAnswers)

	// mu guards the fields that follow.
	mu         sync.Mutex
	now        func() time.Time
	tsSeq      int64           // the last message timestamp, in µs
	idSeq      int             // feeds response_url ids
	posts      []Post          // every accepted chat.* call, in order
	current    map[string]Post // channel+" "+ts -> the message as it stands now
	dms        map[string]bool // DM channels opened so far
	respURLs   map[string]int  // response_url id -> times used
	responses  []Response      // everything posted to response URLs
	requests   []Request       // every Web API call
	rateLimits []rateLimit     // scripted 429s, oldest first
	failures   []methodFailure // scripted ok:false answers, oldest first

	sock socketMode // Socket Mode, off until EnableSocketMode
}

// Post is one accepted chat.postMessage, chat.update or chat.postEphemeral call.
type Post struct {
	Method      string // the API method, e.g. "chat.postMessage"
	Channel     string // the channel the message is in (a user id given as channel becomes the DM "D"+user)
	TS          string // the message's timestamp (for an ephemeral message, its message_ts)
	ThreadTS    string
	User        string // for chat.postEphemeral: who sees it
	Text        string
	Blocks      json.RawMessage   // the blocks as sent, nil when absent
	Attachments json.RawMessage   // the attachments as sent, nil when absent
	Metadata    json.RawMessage   // the metadata as sent, nil when absent
	LinkNames   string            // the link_names argument as sent ("true", "1", ...), "" when absent
	Parse       string            // the parse argument as sent ("full", "none"), "" when absent
	Args        map[string]string // every argument as received (JSON values that are not strings keep their JSON text)
	JSON        bool              // the arguments came as a JSON body rather than a form
	Received    time.Time
}

// Request is one Web API call, whatever the fake answered.
type Request struct {
	Method      string            // the API method, e.g. "chat.update"
	ContentType string            // the request's media type
	TokenIn     string            // "header", "body" or "" for where the token was found
	Args        map[string]string // the arguments (without the token)
	Status      int               // the HTTP status answered
	Error       string            // the Slack error answered, "" for ok:true
	Received    time.Time
}

// New returns a fake Slack workspace whose bot token is botToken.
func New(botToken string) *Server {
	s := &Server{
		botToken: botToken,
		now:      time.Now,
		current:  map[string]Post{},
		dms:      map[string]bool{},
		respURLs: map[string]int{},
	}
	s.door.Changes = &s.changes
	s.answers.Changes = &s.changes
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/api/{method}", s.handleAPI)
	s.mux.HandleFunc("POST /response/{id}", s.handleResponse)
	return s
}

// ServeHTTP serves the fake Slack Web API and response URLs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// SetClock makes the fake read the time from now (for the recorded times and the messages'
// timestamps).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Posts returns every accepted chat.postMessage, chat.update and chat.postEphemeral call,
// oldest first.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Post, len(s.posts))
	for i, p := range s.posts {
		out[i] = p.clone()
	}
	return out
}

// Message returns the message at channel and ts as it stands after every chat.update (its
// Method is that of the last change). Ephemeral messages are not kept.
func (s *Server) Message(channel, ts string) (Post, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.current[channel+" "+ts]
	return p.clone(), ok
}

// Requests returns every Web API call received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Args = maps.Clone(r.Args)
		out[i] = r
	}
	return out
}

func (p Post) clone() Post {
	p.Blocks = slices.Clone(p.Blocks)
	p.Attachments = slices.Clone(p.Attachments)
	p.Metadata = slices.Clone(p.Metadata)
	p.Args = maps.Clone(p.Args)
	return p
}

// call is one parsed Web API request.
type call struct {
	method  string
	args    map[string]string
	raw     map[string]json.RawMessage // JSON values as sent; nil for a form
	json    bool
	token   string
	tokenIn string
	ctype   string
}

// parseCall reads the method's arguments from a JSON or form body (and the query string), and
// the token from the Authorization header or the token argument.
func parseCall(r *http.Request) (call, error) {
	c := call{method: r.PathValue("method"), args: map[string]string{}}
	c.ctype, _, _ = mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return c, err
	}
	if c.ctype == "application/json" {
		c.json = true
		if len(bytes.TrimSpace(body)) == 0 {
			body = []byte("{}") // slack-go sends apps.connections.open with no body
		}
		if err := json.Unmarshal(body, &c.raw); err != nil {
			return c, fmt.Errorf("invalid JSON body: %w", err)
		}
		for k, v := range c.raw {
			var str string
			if json.Unmarshal(v, &str) == nil {
				c.args[k] = str
			} else {
				c.args[k] = string(v)
			}
		}
	} else {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return c, fmt.Errorf("invalid form body: %w", err)
		}
		for k, v := range form {
			c.args[k] = v[0]
		}
	}
	for k, v := range r.URL.Query() {
		if _, ok := c.args[k]; !ok {
			c.args[k] = v[0]
		}
	}
	if h := r.Header.Get("Authorization"); h != "" {
		c.token, c.tokenIn = strings.TrimPrefix(h, "Bearer "), "header"
		if c.token == h {
			c.token = "" // not a bearer token
		}
	} else if tok, ok := c.args["token"]; ok && !c.json {
		c.token, c.tokenIn = tok, "body"
	}
	delete(c.args, "token")
	return c, nil
}

// rawJSON returns an argument that holds JSON (blocks, attachments, metadata) as raw JSON: in
// a form it is a string; in a JSON body it is the value itself, or a string holding JSON.
func (c call) rawJSON(name string) (json.RawMessage, bool) {
	if c.json {
		v, ok := c.raw[name]
		if !ok {
			return nil, false
		}
		var str string
		if json.Unmarshal(v, &str) == nil {
			return json.RawMessage(str), true
		}
		return slices.Clone(v), true
	}
	v, ok := c.args[name]
	if !ok {
		return nil, false
	}
	return json.RawMessage(v), true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
