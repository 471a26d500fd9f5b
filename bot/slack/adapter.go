// Package slack is muster's Slack adapter. It translates Slack to and
// from the commands package and nothing more:
//
//   - slash commands and button clicks come in over HTTP (POST
//     /slack/commands, POST /slack/interactions, each verified with the
//     signing secret before anything else) or over Socket Mode (when an
//     app-level token is set), and both feed the same handler;
//   - the command's own answer is written at once, inside Slack's
//     3-second rule, and slow work (posting cards, fan-out) runs after it;
//   - Adapter.Notify is a notify.Notifier for chat: incidents become
//     cards with Acknowledge and Resolve buttons in the site's channel, task
//     notices go to the assignee's DM with an Acknowledge button, an
//     incident's updates go into its card's thread;
//   - a background loop follows the store's change feed and edits every
//     card (chat.update) when its record changes on any surface;
//   - posts are paced to one per second per channel, with a queue, and a
//     429 is honoured for its Retry-After.
//
// Text a person typed is always escaped (Escape), and muster never sets
// link_names, so nobody can ping a channel through muster.
package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/lease"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// Platform is the name cards are remembered under (store.AddCard).
const Platform = "slack"

// ChangeGroup is the change-feed consumer group of the card refresher.
const ChangeGroup = "cards-slack"

// Handler runs commands; *commands.Service is one.
type Handler interface {
	Handle(ctx context.Context, req commands.Request) commands.Reply
	Identify(platform, userID string) (*configs.Person, error)
}

// Records is what the adapter reads and writes in the store;
// *store.Store is one.
type Records interface {
	AddCard(ctx context.Context, platform, ref, loc string) error
	Cards(ctx context.Context, platform, ref string) ([]string, error)
	ReadChanges(ctx context.Context, group, consumer string, count int, block time.Duration) ([]store.Change, error)
	AckChange(ctx context.Context, group string, ids ...string) error
	Incident(ctx context.Context, num int64) (*store.Incident, error)
	Task(ctx context.Context, num int64) (*store.Task, error)
	RollCall(ctx context.Context, num int64) (*store.RollCall, error)
	RollCallSample(ctx context.Context, num int64, limit int) ([]store.RollCallPerson, error)
}

var (
	_ Handler         = (*commands.Service)(nil)
	_ Records         = (*store.Store)(nil)
	_ notify.Notifier = (*Adapter)(nil)
	_ notify.Named    = (*Adapter)(nil)
)

// Name is the chat surface's name, under which the notify.Dispatcher
// records the messages Slack took.
func (a *Adapter) Name() string { return Platform }

// Options configure New.
type Options struct {
	Service Handler
	Store   Records
	Config  configs.Current

	// BotToken (xoxb-...) posts and edits messages; required.
	BotToken string
	// SigningSecret verifies HTTP requests; without it the HTTP routes
	// refuse everything.
	SigningSecret string
	// AppToken (xapp-...) turns on Socket Mode.
	AppToken string
	// APIURL is the Web API base (slack.api_url); Slack's own when empty.
	APIURL string
	// HTTPClient calls Slack; a client with a 10 s timeout when nil.
	HTTPClient *http.Client

	// Clock paces posts, waits out Retry-After and checks request
	// timestamps; the wall clock when nil.
	Clock clock.Clock
	// Logger; zap.NewNop when nil.
	Logger *zap.Logger

	// PostInterval is the least time between two posts to one channel
	// (default 1 s, Slack's limit for chat.postMessage).
	PostInterval time.Duration
	// QueueSize bounds each channel's queue (default 500); Notify refuses
	// with ErrQueueFull beyond it.
	QueueSize int
	// ReplyBudget is how long a command may take before the HTTP answer
	// says "working on it" and the real answer follows through
	// response_url (default 2 s, inside Slack's 3).
	ReplyBudget time.Duration
	// ChangeBlock is how long the card refresher blocks on the change feed
	// (default 2 s; it is also how long Run takes to stop).
	ChangeBlock time.Duration
	// Consumer names this process in the change-feed group (default
	// "muster").
	Consumer string
	// Replays remembers signed requests so a copy sent again inside the
	// five-minute window is refused; when nil, the Store's Redis is used
	// if the Store is a *store.Store.
	Replays Replays

	// Leases keeps Socket Mode to one replica per organization: only the
	// holder of the lease SocketLease connects, and another replica takes
	// over when it dies. When nil, the Store is used if it is a
	// *store.Store; with neither, every replica connects.
	Leases lease.Leases
	// LeaseTTL is the Socket Mode lease's length (default
	// lease.DefaultTTL): a standby takes over within LeaseTTL*4/3 of the
	// holder's death.
	LeaseTTL time.Duration
	// OnLease, when set, is called when this process starts (held true)
	// or stops (held false) holding the Socket Mode lease; for tests and
	// metrics.
	OnLease func(held bool)
}

// SocketLease is the name of the lease that holds Slack Socket Mode.
const SocketLease = "slack-socket"

// Adapter is muster on Slack. Create it with New, mount its handlers
// (Register), add it to the notify.Dispatcher (AddChat), and Run it.
type Adapter struct {
	svc     Handler
	st      Records
	conf    configs.Current
	api     *slack.Client
	http    *http.Client
	secret  string
	appTok  string
	botTok  string
	apiURL  string
	clock   clock.Clock
	log     *zap.Logger
	every   time.Duration
	qsize   int
	budget  time.Duration
	block   time.Duration
	consume string
	replays Replays
	// guards, when set, settles the replay guards slash commands carry
	// (replay.go); the Store's, unless Options.Replays is set.
	guards  replayGuards
	leases  lease.Leases
	ttl     time.Duration
	onLease func(held bool)

	// ctx lives as long as the adapter; background work (queues, late
	// replies) runs under it and stops when Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards the fields that follow.
	mu     sync.Mutex
	queues map[string]*queue
	dms    map[string]string // Slack user id -> DM channel id
	closed bool
	// pending counts queued and running jobs; idle is closed when it
	// drops to zero (Flush waits on it).
	pending int
	idle    chan struct{}
	// edits holds the cards ("channel/ts") with an edit queued and not
	// yet rendered: a card that changes again meanwhile needs no second
	// edit, since the queued one renders the record as it is then. With
	// the channel's pacing this keeps a roll call's tally card, changing
	// hundreds of times a second, to at most one edit a second.
	edits map[string]bool
}

// ErrNoBotToken: New was called without a bot token.
var ErrNoBotToken = errors.New("slack: bot token is required")

// New builds the adapter. It does not connect to anything until Run or
// the first Notify.
func New(o Options) (*Adapter, error) {
	if o.BotToken == "" {
		return nil, ErrNoBotToken
	}
	if o.Service == nil || o.Store == nil || o.Config == nil {
		return nil, errors.New("slack: Service, Store and Config are required")
	}
	a := &Adapter{
		svc: o.Service, st: o.Store, conf: o.Config, http: o.HTTPClient,
		secret: o.SigningSecret, appTok: o.AppToken, botTok: o.BotToken, apiURL: o.APIURL,
		clock: o.Clock, log: o.Logger, every: o.PostInterval, qsize: o.QueueSize,
		budget: o.ReplyBudget, block: o.ChangeBlock, consume: o.Consumer,
		queues: map[string]*queue{}, dms: map[string]string{}, replays: o.Replays,
		leases: o.Leases, ttl: o.LeaseTTL, onLease: o.OnLease,
	}
	if a.leases == nil {
		if ls, ok := o.Store.(lease.Leases); ok {
			a.leases = ls
		}
	}
	if a.ttl <= 0 {
		a.ttl = lease.DefaultTTL
	}
	if a.replays == nil {
		if rk, ok := o.Store.(redisKeys); ok {
			a.replays = redisReplays{st: rk}
		}
		if g, ok := o.Store.(replayGuards); ok {
			a.guards = g
		}
	}
	if a.http == nil {
		a.http = &http.Client{Timeout: 10 * time.Second}
	}
	if a.clock == nil {
		a.clock = clock.Real{}
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	a.log = a.log.With(zap.String("platform", Platform))
	if a.every <= 0 {
		a.every = time.Second
	}
	if a.qsize <= 0 {
		a.qsize = 500
	}
	if a.budget <= 0 {
		a.budget = 2 * time.Second
	}
	if a.block <= 0 {
		a.block = 2 * time.Second
	}
	if a.consume == "" {
		a.consume = "muster"
	}
	if a.apiURL != "" && !strings.HasSuffix(a.apiURL, "/") {
		a.apiURL += "/"
	}
	a.api = slack.New(a.botTok, a.clientOptions()...)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	return a, nil
}

func (a *Adapter) clientOptions() []slack.Option {
	opts := []slack.Option{slack.OptionHTTPClient(a.http)}
	if a.apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(a.apiURL))
	}
	if a.appTok != "" {
		opts = append(opts, slack.OptionAppLevelToken(a.appTok))
	}
	return opts
}

// Mux is where Register mounts routes; *bot.Server is one.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register mounts POST /slack/commands and POST /slack/interactions.
func (a *Adapter) Register(m Mux) {
	m.Handle("POST /slack/commands", a.CommandsHandler())
	m.Handle("POST /slack/interactions", a.InteractionsHandler())
}

// Run runs the card refresher, and Socket Mode when an app token is set,
// until ctx ends; then it stops the queues and waits for background work.
// Socket Mode connects only while this process holds the lease
// SocketLease, so that of several replicas sharing one Redis exactly one
// is connected; the HTTP routes, posting and the card refresher run on
// every replica.
func (a *Adapter) Run(ctx context.Context) error {
	defer a.Close()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(1)
	go func() { defer wg.Done(); errc <- a.runCards(ctx) }()
	if a.appTok != "" {
		wg.Add(1)
		go func() { defer wg.Done(); errc <- a.runSocketLeased(ctx) }()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		if err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops the queues and waits for background work to end: a post
// still queued is refused with ErrClosed, so the outbox keeps it for
// another attempt or another process; queued card edits are dropped. It is safe to call twice.
func (a *Adapter) Close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
}

// goBackground runs f under the adapter's lifetime; false when closed.
func (a *Adapter) goBackground(f func(ctx context.Context)) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f(a.ctx)
	}()
	return true
}

// Flush waits until every queued post and edit has been made (or given
// up), or ctx ends.
func (a *Adapter) Flush(ctx context.Context) error {
	for {
		a.mu.Lock()
		if a.pending == 0 {
			a.mu.Unlock()
			return nil
		}
		if a.idle == nil {
			a.idle = make(chan struct{})
		}
		idle := a.idle
		a.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("slack: flush: %w", ctx.Err())
		}
	}
}

// Pending is how many posts and edits are queued or running.
func (a *Adapter) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending
}

// jobDone marks one job finished.
func (a *Adapter) jobDone() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending--
	if a.pending == 0 && a.idle != nil {
		close(a.idle)
		a.idle = nil
	}
}

// cfg is the configuration in force now.
func (a *Adapter) cfg() *configs.Config { return a.conf.Current() }
