// Package board serves the live operations board at /board: open
// incidents with their obligation clocks, active plans and their tasks,
// running drills and who is on duty, updated in the browser within a
// second of any change (Server-Sent Events), with Acknowledge and
// Resolve buttons that run the same commands, with the same permission
// checks, as chat. People sign in with a one-time link from
// `/muster board`; wall displays use read-only tokens from the config.
// Everything it serves is its own: one stylesheet, one small script, no
// outside assets.
package board

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/store"
)

//go:embed static/board.css static/board.js
var static embed.FS

// Cookie names.
const (
	sessionCookie = "muster_board"
	displayCookie = "muster_display"
)

// Mux is where the board's routes are mounted (*bot.Server).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Options configure a Board.
type Options struct {
	Store    *store.Store
	Commands *commands.Service
	Logger   *zap.Logger
	// Getenv is the environment display tokens are read from, each as
	// VAR or from the file VAR_FILE names (os.Getenv when nil).
	Getenv func(string) string
	// Safety, when set, gives the open roll calls and lone workers.
	Safety SafetySource
	// Refresh is how often the board is rebuilt without a change, so
	// who is on duty follows the clock (default 30s).
	Refresh time.Duration
	// BaseURL is the address people reach the board at; its cookies are
	// Secure when it is https. server.public_url when empty.
	BaseURL string
}

// Records is what the board reads in the store: the records it shows
// (View), its sign-in sessions (Sessions) and the change feed that tells
// it to rebuild; *store.Store is one.
type Records interface {
	View
	Sessions
	WaitChanges(ctx context.Context, after string, block time.Duration) (string, []string, error)
}

// View is what one board is built from.
type View interface {
	Now() time.Time
	ListIncidents(ctx context.Context, f store.IncidentFilter) ([]*store.Incident, error)
	ObligationsOf(ctx context.Context, nums []int64) (map[int64][]*store.Obligation, error)
	ActiveActivations(ctx context.Context) ([]*store.Activation, error)
	Tasks(ctx context.Context, nums []int64) ([]*store.Task, error)
	Overrides(ctx context.Context) ([]roster.Override, error)
}

// Sessions are the board's sign-ins: a one-time link opens a session.
type Sessions interface {
	OpenBoardSession(ctx context.Context, link string) (string, *store.BoardSession, error)
	BoardSession(ctx context.Context, id string) (*store.BoardSession, error)
	EndBoardSessions(ctx context.Context, actor, person string) (int, error)
}

var _ Records = (*store.Store)(nil)

// Board is the live operations board of one organization.
type Board struct {
	st     Records
	svc    *commands.Service
	log    *zap.Logger
	getenv func(string) string
	base   string
	hub    *hub
}

// New builds a Board. Run must run for it to follow changes.
func New(o Options) *Board {
	b := &Board{st: o.Store, svc: o.Commands, log: o.Logger, getenv: o.Getenv, base: o.BaseURL}
	if b.log == nil {
		b.log = zap.NewNop()
	}
	if b.getenv == nil {
		b.getenv = os.Getenv
	}
	if o.Refresh == 0 {
		o.Refresh = 30 * time.Second
	}
	b.hub = newHub(b, o.Safety, o.Refresh)
	return b
}

func (b *Board) cfg() *configs.Config { return b.svc.Config() }

// Mount adds the board's routes.
func (b *Board) Mount(m Mux) {
	m.Handle("GET /board", http.HandlerFunc(b.page))
	m.Handle("GET /board/{$}", http.HandlerFunc(b.page))
	m.Handle("GET /board/login", http.HandlerFunc(b.loginPage))
	m.Handle("POST /board/login", http.HandlerFunc(b.login))
	m.Handle("GET /board/display", http.HandlerFunc(b.display))
	m.Handle("POST /board/logout", http.HandlerFunc(b.logout))
	m.Handle("GET /board/events", http.HandlerFunc(b.events))
	m.Handle("POST /board/action", http.HandlerFunc(b.action))
	m.Handle("GET /board/static/{file}", http.HandlerFunc(b.asset))
}

// Run follows the changes stream and rebuilds the board on each change,
// until ctx ends.
func (b *Board) Run(ctx context.Context) error { return b.hub.run(ctx) }

// viewer is who is looking at the board.
type viewer struct {
	// person is the signed-in person; nil for a wall display.
	person *configs.Person
	// display is the wall display's id.
	display string
	// sites the viewer sees; nil means every site.
	sites []string
	// session is the session id (people only); csrf its token.
	session, csrf string
}

// lead: supervisors, control and coordinators see every site and may
// act on every record.
func lead(p *configs.Person) bool {
	return p != nil && p.HasAnyRole(configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator)
}

// sees reports whether v may see a record of site.
func (v *viewer) sees(site string) bool { return v.sites == nil || slices.Contains(v.sites, site) }

// scope names what v's fragment depends on, so viewers with the same
// scope share one rendering.
func (v *viewer) scope() string {
	key := strings.Join(v.sites, ",")
	switch {
	case v.person == nil:
		return "display|" + key
	case lead(v.person):
		return "lead|" + key
	}
	return "person:" + v.person.ID + "|" + key
}

// errNoViewer: the request carries no valid session or display token.
var errNoViewer = errors.New("no board session")

// who authenticates a request by its session cookie or display cookie.
func (b *Board) who(r *http.Request) (*viewer, error) {
	cfg := b.cfg()
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		sess, err := b.st.BoardSession(r.Context(), c.Value)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, errNoViewer
			}
			return nil, err
		}
		p, ok := cfg.Person(sess.Person)
		if !ok {
			return nil, errNoViewer // removed from the config since
		}
		v := &viewer{person: p, session: c.Value, csrf: sess.CSRF}
		if !lead(p) {
			v.sites = ownSites(cfg, p.ID)
		}
		return v, nil
	}
	if c, err := r.Cookie(displayCookie); err == nil && c.Value != "" {
		if d := b.displayFor(c.Value); d != nil {
			return &viewer{display: d.ID, sites: displaySites(d)}, nil
		}
	}
	return nil, errNoViewer
}

func displaySites(d *configs.Display) []string {
	if len(d.Sites) == 0 {
		return nil
	}
	return slices.Clone(d.Sites)
}

// displayFor finds the display whose token is tok, comparing every
// configured token in constant time.
func (b *Board) displayFor(tok string) *configs.Display {
	cfg := b.cfg()
	var found *configs.Display
	for i := range cfg.Board.Displays {
		// Read at each sign-in by token, so a rotated token (or
		// token file) takes effect without a restart.
		want, err := configs.SecretFromEnv(b.getenv, cfg.Board.Displays[i].TokenEnv)
		if err != nil {
			b.log.Warn("board display token unreadable; that display is refused", zap.String("display", cfg.Board.Displays[i].ID), zap.Error(err))
			continue
		}
		if want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(tok)) == 1 {
			found = &cfg.Board.Displays[i]
		}
	}
	return found
}

// ownSites are the sites person is rostered at: a guard's board shows
// only those.
func ownSites(cfg *configs.Config, person string) []string {
	out := []string{}
	for _, r := range cfg.Rosters {
		if slices.Contains(r.Rotation.People, person) && !slices.Contains(out, r.Site) {
			out = append(out, r.Site)
		}
	}
	return out
}

// secure says whether cookies must be Secure: the board is reached over
// https (BaseURL, else server.public_url).
func (b *Board) secure() bool {
	base := b.base
	if base == "" {
		base = b.cfg().Server.PublicURL
	}
	return strings.HasPrefix(strings.ToLower(base), "https://")
}

func (b *Board) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/board", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: b.secure(), SameSite: http.SameSiteStrictMode})
}

// headers are sent with every board answer: nothing is cached, nothing
// is loaded from elsewhere, no page frames it, and the sign-in link in
// the address never leaves as a Referer.
func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}
