// Package discord is muster's Discord adapter. It translates Discord to
// and from the commands package, nothing more:
//
//   - interactions come in over HTTP (POST /discord/interactions, verified
//     with Ed25519) or over the gateway (a discordgo session with the bot
//     token); both feed one handler, which answers inside Discord's
//     3-second rule, deferring (type 5 or 6) when work may take longer;
//   - application commands (incident, plan, roster, ack, done, drill,
//     muster) are registered on start, per guild or globally;
//   - chat messages of notify go out as embeds with buttons (the Adapter
//     is a notify.Notifier), and every message muster posted is edited
//     when its incident or task changes on any surface;
//   - every message and interaction response carries allowed_mentions with
//     an explicit empty parse list, naming only the users muster means to
//     ping, so "@everyone" typed by a guard pings no one.
package discord

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/lease"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// Platform is the name the adapter records cards under (store.AddCard)
// and the commands package knows Discord users by.
const Platform = commands.PlatformDiscord

// CardsGroup is the change-feed consumer group of the card updater: each
// change is handled once per platform across replicas.
const CardsGroup = "cards-discord"

// DefaultDeferAfter is how long an interaction may run before muster
// answers with a deferred response instead: well inside Discord's three
// seconds, leaving room for the network both ways.
const DefaultDeferAfter = 1500 * time.Millisecond

// Handler runs commands; *commands.Service is one.
type Handler interface {
	Handle(ctx context.Context, req commands.Request) commands.Reply
	Identify(platform, userID string) (*configs.Person, error)
}

// Records is what the adapter reads and writes in the store: the cards
// it posted and the change feed that refreshes them, the records a card
// shows, and the replay check of an interaction; *store.Store is one.
type Records interface {
	AddCard(ctx context.Context, platform, ref, loc string) error
	Cards(ctx context.Context, platform, ref string) ([]string, error)
	ReadChanges(ctx context.Context, group, consumer string, count int, block time.Duration) ([]store.Change, error)
	AckChange(ctx context.Context, group string, ids ...string) error
	Incident(ctx context.Context, num int64) (*store.Incident, error)
	Task(ctx context.Context, num int64) (*store.Task, error)
	RollCall(ctx context.Context, num int64) (*store.RollCall, error)
	RollCallSample(ctx context.Context, num int64, limit int) ([]store.RollCallPerson, error)
	CheckReplay(ctx context.Context, g *store.ReplayGuard) (bool, error)
}

var (
	_ Handler = (*commands.Service)(nil)
	_ Records = (*store.Store)(nil)
)

// Options configure New. Service, Store and Config are required; the
// secrets decide what runs: PublicKey enables the HTTP endpoint, BotToken
// the gateway, command registration and posting.
type Options struct {
	Service Handler
	Store   *store.Store
	Config  configs.Current

	// BotToken is the bot's token (DISCORD_BOT_TOKEN), without "Bot ".
	BotToken string
	// AppID is the application id (DISCORD_APP_ID); required with BotToken.
	AppID string
	// PublicKey is the application's Ed25519 public key in hex
	// (DISCORD_PUBLIC_KEY); required for the HTTP interactions endpoint.
	PublicKey string

	// APIURL replaces https://discord.com for every REST call (tests, a
	// proxy); the config's discord.api_url when empty.
	APIURL string
	// GuildID registers the commands in one guild (instant) rather than
	// globally; the config's discord.guild_id when empty.
	GuildID string

	// Clock is the clock for waits (deferral, Retry-After); the wall
	// clock when nil.
	Clock  clock.Clock
	Logger *zap.Logger
	// HTTPClient carries the REST calls; a client with a 10 s timeout
	// when nil. APIURL rewriting wraps its transport.
	HTTPClient *http.Client

	// DisableGateway keeps the gateway websocket closed even with a bot
	// token: HTTP interactions only (and tests, where no gateway exists).
	DisableGateway bool
	// DeferAfter overrides DefaultDeferAfter.
	DeferAfter time.Duration
	// Consumer names this process in the change feed's consumer group.
	Consumer string

	// Leases keeps the gateway to one replica per organization: only the
	// holder of the lease GatewayLease connects, and another replica
	// takes over when it dies. The Store when nil.
	Leases lease.Leases
	// LeaseTTL is the gateway lease's length (default lease.DefaultTTL):
	// a standby connects within LeaseTTL*4/3 of the holder's death.
	LeaseTTL time.Duration
	// OnLease, when set, is called when this process starts (held true)
	// or stops (held false) holding the gateway lease; for tests and
	// metrics.
	OnLease func(held bool)
}

// GatewayLease is the name of the lease that holds the Discord gateway.
const GatewayLease = "discord-gateway"

// Adapter is the Discord platform: HTTP endpoint, gateway, notifier and
// card updater. Build it with New; run it with Run.
type Adapter struct {
	svc       Handler
	st        Records
	conf      configs.Current
	clk       clock.Clock
	log       *zap.Logger
	appID     string
	guildID   string
	publicKey ed25519.PublicKey
	// session carries every REST call; without a bot token it can still
	// answer interactions (their token authorizes the webhook routes).
	session    *discordgo.Session
	bot        bool // a bot token is set: post, edit, register, gateway
	gateway    bool
	deferAfter time.Duration
	consumer   string
	leases     lease.Leases
	leaseTTL   time.Duration
	onLease    func(held bool)
	// gatewayLive is true while this process holds the gateway lease and
	// its connection is open: only then are gateway interactions handled.
	gatewayLive atomic.Bool

	// work tracks deferred interaction work still running.
	work sync.WaitGroup

	// mu guards the fields that follow.
	mu  sync.Mutex
	dms map[string]string // Discord user id -> DM channel id
}

var (
	_ notify.Notifier = (*Adapter)(nil)
	_ notify.Named    = (*Adapter)(nil)
)

// Name is the chat surface's name, under which the notify.Dispatcher
// records the messages Discord took.
func (a *Adapter) Name() string { return Platform }

// Sentinel errors of New and Notify.
var (
	// ErrNoSecrets: neither a bot token nor a public key is set, so
	// Discord is off.
	ErrNoSecrets = errors.New("discord: no bot token and no public key")
	// ErrNoAppID: a bot token without the application id.
	ErrNoAppID = errors.New("discord: a bot token needs the application id (DISCORD_APP_ID)")
	// ErrNoBot: posting needs a bot token.
	ErrNoBot = errors.New("discord: no bot token, cannot post")
)

// New builds the adapter. It does no I/O; Run registers the commands and
// opens the gateway.
func New(o Options) (*Adapter, error) {
	if o.Service == nil || o.Store == nil || o.Config == nil {
		return nil, errors.New("discord: Service, Store and Config are required")
	}
	if o.BotToken == "" && o.PublicKey == "" {
		return nil, ErrNoSecrets
	}
	a := &Adapter{
		svc: o.Service, st: o.Store, conf: o.Config, clk: o.Clock, log: o.Logger,
		appID: o.AppID, guildID: o.GuildID, deferAfter: o.DeferAfter, consumer: o.Consumer,
		dms: map[string]string{}, leases: o.Leases, leaseTTL: o.LeaseTTL, onLease: o.OnLease,
	}
	if a.leases == nil {
		a.leases = o.Store
	}
	if a.leaseTTL <= 0 {
		a.leaseTTL = lease.DefaultTTL
	}
	if a.clk == nil {
		a.clk = clock.Real{}
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	a.log = a.log.With(zap.String("platform", Platform))
	if a.guildID == "" {
		a.guildID = o.Config.Current().Discord.GuildID
	}
	if a.deferAfter <= 0 {
		a.deferAfter = DefaultDeferAfter
	}
	if a.consumer == "" {
		a.consumer = notify.NewToken()
	}
	if o.PublicKey != "" {
		k, err := ParsePublicKey(o.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("discord public key: %w", err)
		}
		a.publicKey = k
	}
	if o.BotToken != "" && o.AppID == "" {
		return nil, ErrNoAppID
	}
	apiURL := o.APIURL
	if apiURL == "" {
		apiURL = o.Config.Current().Discord.APIURL
	}
	client, err := restClient(o.HTTPClient, apiURL)
	if err != nil {
		return nil, err
	}
	token := ""
	if o.BotToken != "" {
		token = "Bot " + o.BotToken
	}
	s, err := discordgo.New(token)
	if err != nil {
		return nil, fmt.Errorf("discord session: %w", err)
	}
	s.Client = client
	// 429s come back as errors and are waited out here, on the injected
	// clock and with the caller's context (discordgo would sleep blindly).
	s.ShouldRetryOnRateLimit = false
	s.StateEnabled = false
	s.Identify.Intents = discordgo.IntentsGuilds
	a.session = s
	a.bot = o.BotToken != ""
	a.gateway = a.bot && !o.DisableGateway
	return a, nil
}

// Run registers the application commands, opens the gateway (when a bot
// token is set and the gateway is not disabled) and keeps posted messages
// true until ctx ends; then it closes the gateway and waits for deferred
// interaction work to finish. The gateway is open only while this process
// holds the lease GatewayLease, so that of several replicas sharing one
// Redis exactly one is connected; the HTTP endpoint, posting and the
// cards run on every replica. A failed registration or gateway connection
// is logged, not fatal: the HTTP endpoint, posting and the cards go on (a
// failed connection gives the lease up and is tried again a third of the
// lease later; RegisterCommands can be called again).
func (a *Adapter) Run(ctx context.Context) error {
	// Join the change feed before anything can change, so the first
	// changes are not missed.
	if _, err := a.st.ReadChanges(ctx, CardsGroup, a.consumer, 1, -1); err != nil {
		a.log.Warn("change feed unavailable; retrying in the loop", zap.Error(err))
	}
	defer a.Wait()
	if !a.bot {
		<-ctx.Done()
		return nil
	}
	if err := a.RegisterCommands(ctx); err != nil {
		a.log.Error("discord commands not registered", zap.Error(err))
	}
	if a.gateway {
		// Interactions are handled only while this process holds the
		// gateway lease: a connection still closing after the lease was
		// given up must not act on one the new holder also receives.
		a.session.AddHandler(func(s *discordgo.Session, ic *discordgo.InteractionCreate) {
			if a.gatewayLive.Load() {
				a.onInteractionCreate(s, ic)
			}
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			a.runGateway(ctx)
		}()
		defer func() { <-done }()
	}
	a.runCards(ctx)
	return nil
}

// runGateway holds the gateway open while this process holds the lease
// GatewayLease, until ctx ends.
func (a *Adapter) runGateway(ctx context.Context) {
	run := lease.New(lease.Options{Leases: a.leases, Clock: a.clk, Token: notify.NewToken(), Logger: a.log})
	if a.onLease != nil {
		run.OnChange = func(_ string, held bool) { a.onLease(held) }
	}
	var lastErr string
	err := run.RunWithLease(ctx, GatewayLease, a.leaseTTL, func(ctx context.Context) {
		if err := a.session.Open(); err != nil {
			// Logged once per distinct error: the runner gives the lease
			// up and tries again a third of the lease later.
			if err.Error() != lastErr {
				a.log.Error("discord gateway not connected; interactions come only over HTTP until it is", zap.Error(err))
				lastErr = err.Error()
			}
			return
		}
		lastErr = ""
		a.gatewayLive.Store(true)
		a.log.Info("discord gateway connected")
		<-ctx.Done()
		a.gatewayLive.Store(false)
		if err := a.session.Close(); err != nil {
			a.log.Warn("discord gateway close", zap.Error(err))
		}
		a.log.Info("discord gateway closed")
	})
	if err != nil {
		a.log.Error("discord gateway lease", zap.Error(err))
	}
}

// Wait blocks until deferred interaction work (edits of original
// responses) has finished.
func (a *Adapter) Wait() { a.work.Wait() }

// Gateway reports whether Run opens the gateway.
func (a *Adapter) Gateway() bool { return a.gateway }

// HTTPEnabled reports whether a public key is set, so the HTTP
// interactions endpoint can verify requests. Mount Handler only then.
func (a *Adapter) HTTPEnabled() bool { return a.publicKey != nil }

// Posting reports whether a bot token is set, so the adapter can post
// and edit messages (add it to the notify.Dispatcher only then).
func (a *Adapter) Posting() bool { return a.bot }

// cfg is the configuration in force now.
func (a *Adapter) cfg() *configs.Config { return a.conf.Current() }
