// Command muster is the chat-ops bot and incident communication hub for
// security operations teams. See the README for the commands.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/term"

	"github.com/muster-ops/muster/bot"
	"github.com/muster-ops/muster/bot/board"
	"github.com/muster-ops/muster/bot/console"
	"github.com/muster-ops/muster/bot/discord"
	slackbot "github.com/muster-ops/muster/bot/slack"
	"github.com/muster-ops/muster/bot/sms"
	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/internal/buildinfo"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/lease"
	"github.com/muster-ops/muster/internal/logging"
	"github.com/muster-ops/muster/internal/metrics"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/notify/twilio"
	"github.com/muster-ops/muster/report"
	"github.com/muster-ops/muster/store"
	"github.com/muster-ops/muster/store/journal"
)

// The store is wired into each consumer through the small interface that
// consumer declares (the bot adapters assert theirs in their packages).
var (
	_ commands.Records       = (*store.Store)(nil)
	_ notify.Timers          = (*store.Store)(nil)
	_ notify.Outbox          = (*store.Store)(nil)
	_ notify.HandoverRecords = (*store.Store)(nil)
	_ notify.ActionRecords   = (*store.Store)(nil)
	_ notify.Surfaces        = (*store.Store)(nil)
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `muster: chat-ops and incident communication for security operations

Usage:
  muster console [--config FILE] [--as PERSON] [--redis URL] [--time-scale N] [--start RFC3339] [--log-level L]
  muster serve --config FILE --redis URL [--listen ADDR] [--log-level L]
  muster serve --demo [--config FILE] [--listen ADDR]
  muster roster --site SITE [--at RFC3339] [--role ROLE] [--when now|next|week] [--config FILE] [--redis URL]
  muster check-config FILE... (or - for stdin)
  muster version
  muster help

Records (each also takes --config FILE and --redis URL):
` + report.CLIUsage + `
--config may also come from MUSTER_CONFIG. The console and roster use the
embedded example configuration without one; serve and the record commands
need one. With no Redis URL (--redis, redis.url or MUSTER_REDIS_URL) the
console keeps state in an embedded in-memory server, lost on exit; with one
it is a client of the muster serve processes on that Redis.

"muster COMMAND --help" lists a command's flags.
`

// run is main without the process: tests call it with their own streams.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "console":
		return runConsole(ctx, args[1:], stdin, stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "roster":
		return runRoster(ctx, args[1:], stdout, stderr)
	case "check-config":
		return runCheckConfig(args[1:], stdin, stdout, stderr)
	case "audit", "report", "records":
		return runRecords(ctx, args, stdout, stderr)
	case "version", "--version", "-v":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "muster version: unexpected argument %q\n", args[1])
			return 2
		}
		fmt.Fprint(stdout, buildinfo.Get())
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "muster: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// newLogger builds the process's logger and routes the libraries' own
// log lines (go-redis, discordgo) into it, so stderr carries one format.
func newLogger(w io.Writer, format, level string) (*zap.Logger, error) {
	log, err := logging.New(w, format, level)
	if err != nil {
		return nil, fmt.Errorf("--log-format %s --log-level %s: %w", format, level, err)
	}
	store.RouteLibraryLogs(log.Named("redis"))
	discord.RouteLibraryLogs(log.Named("discordgo"))
	return log, nil
}

// EnvConfig names the variable that gives the configuration file when
// --config is not given.
const EnvConfig = "MUSTER_CONFIG"

// configPath is --config's value, else MUSTER_CONFIG's.
func configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv(EnvConfig)
}

// loadConfig reads FILE, or the embedded example when path is empty.
func loadConfig(path string) (*configs.Config, error) {
	if path == "" {
		return configs.Example()
	}
	return configs.Load(path)
}

// loadSettings loads the configuration at path (the embedded example
// when "") and the secrets it names: the one place a muster command
// reads its secrets, each from its environment variable VAR or the file
// VAR_FILE names (configs.SecretsFromEnv). A problem is printed to
// stderr, and ok is false (exit 1).
func loadSettings(name, path string, stderr io.Writer) (cfg *configs.Config, secrets configs.Secrets, ok bool) {
	cfg, err := loadConfig(path)
	if err != nil {
		printConfigError(stderr, err)
		return nil, configs.Secrets{}, false
	}
	if secrets, err = cfg.SecretsFromEnv(nil); err != nil {
		fmt.Fprintf(stderr, "muster %s: %v\n", name, err)
		return nil, configs.Secrets{}, false
	}
	return cfg, secrets, true
}

func printConfigError(w io.Writer, err error) {
	var probs configs.Errors
	if errors.As(err, &probs) {
		for _, p := range probs {
			fmt.Fprintln(w, p.String())
		}
		fmt.Fprintf(w, "%d problem(s) found\n", len(probs))
		return
	}
	fmt.Fprintln(w, err)
}

// runRecords runs the audit, report and records commands.
//
// They read the records of a real organization, so they need its config
// and its Redis: on the example config or an empty in-memory store,
// `audit verify` would pass a chain that holds nothing. Only the commands
// that read no records (verifying an export file) run without them.
func runRecords(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprintf(stdout, "Usage:\n%s", report.CLIUsage)
			return 0
		}
	}
	cfgFlag, redisURL, rest := report.GlobalFlags(args)
	cfgPath := configPath(cfgFlag)
	needsRecords := !readsNoRecords(rest)
	if needsRecords && cfgPath == "" {
		fmt.Fprintf(stderr, "muster %s: no configuration: set --config FILE or %s (the organization whose records to read)\n", args[0], EnvConfig)
		return 2
	}
	cfg, secrets, ok := loadSettings(args[0], cfgPath, stderr)
	if !ok {
		return 1
	}
	if redisURL == "" {
		redisURL = secrets.RedisURL
	}
	if needsRecords && redisURL == "" {
		fmt.Fprintf(stderr, "muster %s: no Redis URL: set --redis URL, redis.url or %s to the Redis muster serve uses (an in-memory store holds no records)\n",
			args[0], cfg.Redis.URLEnv)
		return 2
	}
	st, err := store.Open(ctx, store.Options{URL: redisURL, Namespace: cfg.Namespace})
	if err != nil {
		fmt.Fprintln(stderr, "muster:", err)
		return 1
	}
	defer st.Close()
	return report.RunCLI(ctx, rest, cfg, st, stdout, stderr)
}

// readsNoRecords reports whether a record command line works without the
// organization's Redis: verifying an export file, or printing the audit
// public key.
func readsNoRecords(rest []string) bool {
	if len(rest) >= 2 && rest[0] == "audit" && rest[1] == "public-key" {
		return true
	}
	if len(rest) < 2 || rest[0] != "audit" || rest[1] != "verify" {
		return false
	}
	for _, a := range rest[2:] {
		if a == "--file" || a == "-file" || strings.HasPrefix(a, "--file=") || strings.HasPrefix(a, "-file=") {
			return true
		}
	}
	return false
}

func runCheckConfig(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := newCommand("check-config", "muster check-config FILE...\nmuster check-config -    (the config on stdin)",
		"Checks configuration files: one summary line for a good file (exit 0); every problem of a bad one,\n"+
			"one a line with its file, line and field path (exit 1).")
	if code, ok := cmd.parse(args, stdout, stderr); !ok {
		return code
	}
	if cmd.fs.NArg() == 0 {
		fmt.Fprint(stderr, "muster check-config: name the files to check (or - for stdin)\n\n")
		cmd.usage(stderr)
		return 2
	}
	code := 0
	for _, path := range cmd.fs.Args() {
		var cfg *configs.Config
		var err error
		if path == "-" {
			var data []byte
			if data, err = io.ReadAll(stdin); err == nil {
				cfg, err = configs.Parse(data, "<stdin>")
			}
		} else {
			cfg, err = configs.Load(path)
		}
		if err != nil {
			printConfigError(stdout, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok: %q, %d sites, %d people, %d rosters, %d policies, %d plans\n",
			cfg.Source, cfg.Organization, len(cfg.Sites), len(cfg.People), len(cfg.Rosters), len(cfg.Policies), len(cfg.Plans))
	}
	return code
}

// app is what console and serve share: config, store, commands.
type app struct {
	// cfg is the configuration the process started with; the settings
	// only a restart applies (configs.RestartOnly) are read from it.
	cfg *configs.Config
	// live is the configuration in force, which a reload swaps: commands,
	// steps, hand-overs and the chat and SMS surfaces read it.
	live *configs.Live
	// cfgPath is the file a reload reads; "" for the embedded example.
	cfgPath string
	st      *store.Store
	svc     *commands.Service
	disp    *notify.Dispatcher
	eng     *notify.Engine
	clock   clock.Clock
	log     *zap.Logger
	// twilio is on when its secrets are set: SMS and calls go through it,
	// paced per sender; otherwise the console prints them.
	twilio bool
	// journal is degraded mode's record while Redis is unreachable.
	journal *journal.Journal
	// sealer seals and signs the audit chain while this process holds
	// its lease.
	sealer *notify.Sealer
	// metrics are serve's Prometheus series; nil in the console.
	metrics *metrics.Metrics
	// reloaded are run after a reload put a new configuration in force.
	reloaded []func(context.Context)
	// configAudit, when set, is the config-loaded audit event that could
	// not be written at start (Redis down): start writes it once Redis
	// answers.
	configAudit func(context.Context) error
}

// leases are the store's leases, watched by the metrics when there are
// any.
func (a *app) leases() lease.Leases {
	if a.metrics == nil {
		return a.st
	}
	return watchedLeases{Leases: a.st, m: a.metrics}
}

// settle waits, for at most two seconds, until the outbox is empty: the
// console prints a command's outgoing messages before its reply.
func (a *app) settle(ctx context.Context) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n, err := a.st.OutboxLen(ctx)
		if err != nil || n == 0 {
			return
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// start runs the process's own loops in l until l stops: the health
// probes, the escalation engine, the outbox delivery, hand-overs,
// corrective-action reminders, the degraded-mode journal, the lone-worker
// watch and the audit sealer. After l has stopped, finish waits for degraded-mode sends.
func (a *app) start(l *loops) {
	// The health probes tell an outage (degraded mode) from overload.
	l.keep("health probes", a.st.Health().Run)
	l.keep("config audit", func(ctx context.Context) error { a.writeConfigAudit(ctx); return nil })
	l.keep("escalation engine", a.eng.Run)
	pacing := twilioPacing(a.cfg, a.twilio)
	var coords []string
	for _, p := range a.cfg.Coordinators() {
		coords = append(coords, p.ID)
	}
	del := notify.NewDelivererWith(notify.DelivererOptions{Store: a.st, Out: a.disp, Logger: a.log, Clock: a.clock,
		Consumer: notify.NewToken(), Lease: a.cfg.Engine.Lease.D(), Pacing: pacing, Coordinators: coords})
	del.OnDeliver = a.observeDelivery
	l.keep("outbox delivery", del.Run)
	l.keep("hand-over notices", notify.NewHandover(a.live, a.st, a.clock, a.log).Run)
	// Owners are reminded of corrective actions that fall due.
	l.keep("action reminders", notify.NewActionReminders(a.live, a.st, a.clock, a.log).Run)
	// Degraded-mode triggers are replayed into the records once Redis
	// answers again.
	l.keep("journal replay", a.journal.Run)
	// Degraded mode knows the lone workers (their SMS HELP is theirs,
	// not a roll-call answer) as last seen.
	l.keep("lone-worker watch", func(ctx context.Context) error { return a.svc.WatchLoneWorkers(ctx, 0) })
	l.keep("audit sealer", a.sealer.Run)
}

// finish waits for degraded-mode sends still under way; call it once the
// loops have stopped.
func (a *app) finish() { a.svc.WaitDegraded() }

// writeConfigAudit writes the config-loaded audit event that Redis was
// down for at start, as soon as it answers.
func (a *app) writeConfigAudit(ctx context.Context) {
	if a.configAudit == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := a.configAudit(ctx); err == nil {
			a.log.Info("redis answers: the configuration this process runs with is in the audit log")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// twilioPacing is how fast SMS and calls go out through Twilio (nil when
// Twilio is off): the outbox's lanes and degraded mode's direct sends
// both keep to it.
func twilioPacing(cfg *configs.Config, on bool) map[string]notify.Pacing {
	if !on {
		return nil
	}
	sender := cfg.Twilio.From
	if cfg.Twilio.MessagingServiceSID != "" {
		sender = cfg.Twilio.MessagingServiceSID
	}
	return map[string]notify.Pacing{
		notify.SMS: {Sender: sender, Rate: cfg.Twilio.Rate},
		// Twilio starts one call per second per account by default.
		notify.Voice: {Sender: cfg.Twilio.From, Rate: min(cfg.Twilio.Rate, 1)},
	}
}

// appOptions say what kind of process openApp builds.
type appOptions struct {
	// cfgPath is the configuration file; "" for the embedded example.
	cfgPath string
	// redisURL is the organization's Redis; "" for the embedded store.
	redisURL string
	clock    clock.Clock
	log      *zap.Logger
	// client is a console on a shared Redis: the muster serve processes
	// there escalate, deliver and hand over, so this process does none of
	// it, and has no degraded mode of its own (its journal would never be
	// replayed).
	client bool
	// secrets are the process's credentials, read once at start.
	secrets configs.Secrets
	// metrics, when set (serve), count what the process does.
	metrics *metrics.Metrics
	// startDown lets the process start while Redis does not answer, in
	// degraded mode until it does (serve).
	startDown bool
}

// redisURLFor is the Redis URL a command uses: its --redis flag, else the
// config's redis.url or the variable redis.url_env names; "" for none.
func redisURLFor(flagValue string, secrets configs.Secrets) string {
	if flagValue != "" {
		return flagValue
	}
	return secrets.RedisURL
}

func openApp(ctx context.Context, cfg *configs.Config, o appOptions) (*app, error) {
	clk, log := o.clock, o.log
	st, err := store.Open(ctx, store.Options{URL: o.redisURL, Namespace: cfg.Namespace, Now: clk.Now, Logger: log, StartDown: o.startDown})
	if err != nil {
		return nil, err
	}
	if o.metrics != nil {
		st.Health().OnChange(o.metrics.SetDegraded)
	}
	// The audit log records which configuration each process ran with.
	configAudit := func(ctx context.Context) error { return auditConfig(ctx, st, cfg, o.cfgPath) }
	var pendingAudit func(context.Context) error
	if err := configAudit(ctx); err != nil {
		if !o.startDown || !st.Health().Confirm(ctx, err) {
			_ = st.Close()
			return nil, err
		}
		pendingAudit = configAudit
		log.Error("redis is unreachable at start: serving in degraded mode until it answers",
			zap.String("reason", st.Health().Reason()))
	}
	live := configs.NewLive(cfg)
	disp := notify.NewDispatcher(log)
	// With several chat surfaces, the store remembers which of them took
	// each message, so a retry goes only to the ones that did not.
	disp.SetStore(st)
	sec := o.secrets
	twilioOn := !o.client && sec.TwilioAccountSID != "" && sec.TwilioAuthToken != ""
	if twilioOn {
		tw, err := twilio.New(twilio.Options{AccountSID: sec.TwilioAccountSID, AuthToken: sec.TwilioAuthToken,
			From: cfg.Twilio.From, MessagingServiceSID: cfg.Twilio.MessagingServiceSID, APIURL: cfg.Twilio.APIURL,
			PublicURL: cfg.Server.PublicURL, People: live, Deliveries: st, Logger: log.Named("twilio")})
		if err != nil {
			_ = st.Close()
			return nil, err
		}
		disp.SetSMS(tw)
		disp.SetVoice(tw)
	}
	a := &app{cfg: cfg, live: live, cfgPath: o.cfgPath, st: st, disp: disp, clock: clk, log: log, twilio: twilioOn, configAudit: pendingAudit}
	opts := commands.Options{Config: live, Store: st, Now: clk.Now, Logger: log}
	if !o.client {
		a.eng = notify.NewEngine(notify.EngineOptions{Config: live, Store: st, Clock: clk, Logger: log, Gather: cfg.Engine.Gather.D()})
		if a.journal, err = journal.Open(journal.Options{Path: cfg.Server.Journal, Records: st, Logger: log.Named("journal")}); err != nil {
			_ = st.Close()
			return nil, err
		}
		// While Redis is unreachable, the replay check answers from this
		// process's memory, kept in the journal across a restart.
		st.UseSeenLog(a.journal, a.journal.Seen())
		// Degraded mode sends directly, at twilio.rate like the outbox.
		opts.Engine, opts.Degraded, opts.Journal = a.eng, notify.NewPaced(disp, twilioPacing(cfg, twilioOn)), a.journal
		a.metrics = o.metrics
		if a.sealer, err = newSealer(cfg, o.secrets, st, a.leases(), clk, log); err != nil {
			_ = st.Close()
			return nil, err
		}
	}
	a.svc = commands.New(opts)
	return a, nil
}

// auditConfig records in the audit log which configuration the process
// runs with: its source and the SHA-256 of its bytes.
func auditConfig(ctx context.Context, st *store.Store, cfg *configs.Config, path string) error {
	raw := configs.ExampleYAML()
	if path != "" {
		var err error
		if raw, err = os.ReadFile(path); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(raw)
	return st.AuditConfigLoaded(ctx, cfg.Source, hex.EncodeToString(sum[:]))
}

// newSealer builds the audit chain's sealer with the signing key from the
// environment; without one the chain is sealed unsigned, with a warning.
func newSealer(cfg *configs.Config, secrets configs.Secrets, st *store.Store, leases lease.Leases, clk clock.Clock, log *zap.Logger) (*notify.Sealer, error) {
	var key *store.AuditKey
	if seed := secrets.AuditKey; seed != "" {
		var err error
		if key, err = store.ParseAuditKey(seed); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Records.SigningKeyEnv, err)
		}
		log.Info("audit chain heads are signed", zap.String("public_key", key.PublicHex()))
	} else {
		log.Warn("no audit signing key: the audit chain is sealed unsigned, so whoever can write to Redis could rewrite it unseen",
			zap.String("set", cfg.Records.SigningKeyEnv))
	}
	return notify.NewSealer(notify.SealerOptions{Store: st, Leases: leases, Key: key, SealLog: cfg.Records.SealLog, Clock: clk,
		Logger: log.Named("sealer")}), nil
}

func runConsole(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := newCommand("console", "muster console [flags]",
		"Type muster's commands as a person of the organization. Piped, it runs one command a line and exits 1\n"+
			"if any was refused or failed. Without a Redis URL it is the whole system on an in-memory store;\n"+
			"with one, a client of the muster serve processes on that Redis.")
	fs := cmd.fs
	cfgPath := fs.String("config", "", "the configuration `FILE` (default: "+EnvConfig+", else the embedded example)")
	as := fs.String("as", "", "type as `PERSON`, a person id (default: the first coordinator)")
	redisURL := fs.String("redis", "", "the Redis `URL` of muster serve's records (default: redis.url, MUSTER_REDIS_URL, else an embedded in-memory store)")
	scale := fs.Float64("time-scale", 1, "run the console's clock `N` times faster (rehearsals; embedded store only)")
	startAt := fs.String("start", "", "start the console's clock at an `RFC3339` instant (rehearse another shift; embedded store only)")
	logLevel := fs.String("log-level", "warn", "log at `LEVEL`: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log lines as `FORMAT`: json or text")
	boardAddr := fs.String("board", "", "serve the live board on `ADDR` (embedded store only; default: server.listen; off: none)")
	if code, ok := cmd.parse(args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "muster console: unexpected argument %q (commands come on stdin)\n", fs.Arg(0))
		return 2
	}
	if *scale <= 0 || *scale > 10000 {
		fmt.Fprintln(stderr, "muster console: --time-scale must be between 0 and 10000")
		return 2
	}
	start := time.Now()
	if *startAt != "" {
		var err error
		if start, err = time.Parse(time.RFC3339, *startAt); err != nil {
			fmt.Fprintf(stderr, "muster console: --start %q is not RFC 3339 (e.g. 2026-11-28T19:30:00Z)\n", *startAt)
			return 2
		}
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "muster console:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	path := configPath(*cfgPath)
	cfg, secrets, ok := loadSettings("console", path, stderr)
	if !ok {
		return 1
	}
	// On a shared Redis the console is a client of muster serve, which
	// escalates and delivers on the real clock: a console clock of its
	// own there would page real people early.
	url := redisURLFor(*redisURL, secrets)
	client := url != ""
	if client && (*scale != 1 || *startAt != "") {
		fmt.Fprintln(stderr, "muster console: --time-scale and --start run only on the embedded store; on a shared Redis the console is a client and muster serve escalates on the real clock")
		return 2
	}
	var clk clock.Clock = clock.Real{}
	if *scale != 1 || *startAt != "" {
		clk = clock.NewScaled(start, *scale)
	}
	a, err := openApp(ctx, cfg, appOptions{cfgPath: path, redisURL: url, clock: clk, log: log, client: client, secrets: secrets})
	if err != nil {
		fmt.Fprintln(stderr, "muster console:", err)
		return 1
	}
	defer a.st.Close()
	settle := a.settle
	if client {
		settle = nil // muster serve delivers; nothing here to wait for
	}
	con, err := console.New(console.Options{Service: a.svc, As: *as, Out: stdout, Settle: settle, Wait: func(ctx context.Context, d time.Duration) error {
		c, stop := clk.After(d)
		defer stop()
		select {
		case <-c:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	if err != nil {
		fmt.Fprintln(stderr, "muster console:", err)
		return 2
	}
	if !client {
		// On the embedded store the console is the whole system: it
		// escalates, and prints what muster would send.
		a.disp.AddChat(con)
		if !a.twilio {
			a.disp.SetSMS(con)
			a.disp.SetVoice(con)
		}
		l := newLoops(ctx, log)
		a.start(l)
		defer func() { _ = l.stop(); a.finish() }()
	}

	f, isFile := stdin.(*os.File)
	interactive := isFile && term.IsTerminal(int(f.Fd()))
	if !client && *boardAddr != "off" {
		// On the embedded store the console is the whole system: it
		// serves the board too, on its own listener.
		addr := *boardAddr
		if addr == "" {
			addr = a.cfg.Server.Listen
		}
		say := stderr
		if interactive {
			say = stdout
		}
		stop := serveConsoleBoard(ctx, a, log, addr, say)
		defer stop()
	}
	if interactive {
		fmt.Fprintf(stdout, "muster console: %s, typing as %s. /muster help lists commands, :quit leaves.\n", a.cfg.Organization, con.As())
		if a.st.Embedded() {
			fmt.Fprintln(stdout, "State lives in memory only (no Redis configured).")
		} else {
			fmt.Fprintf(stdout, "Connected to %s as a client: muster serve escalates and delivers.\n", store.RedactURL(url))
		}
		fmt.Fprintln(stdout, "Try: /incident raise intrusion sev2 @harbour Fence cut near gate B")
		fmt.Fprintln(stdout, "  or: /plan trigger fire-evacuation @harbour, then :wait 2m to watch escalation, then /ack")
		rw := struct {
			io.Reader
			io.Writer
		}{f, stdout}
		if err := con.Interactive(ctx, rw, int(f.Fd())); err != nil {
			fmt.Fprintln(stderr, "muster console:", err)
			return 1
		}
		return 0
	}
	if err := con.Run(ctx, stdin); err != nil {
		fmt.Fprintln(stderr, "muster console:", err)
		return 1
	}
	if n := con.Failed(); n > 0 {
		// Every line ran; a script that drives the console learns that
		// some did not do what they asked.
		fmt.Fprintf(stderr, "muster console: %d line(s) refused or failed\n", n)
		return 1
	}
	return 0
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("serve", "muster serve --config FILE --redis URL [flags]\nmuster serve --demo [--config FILE] [flags]",
		"Runs the HTTP listener (Slack, Discord and Twilio webhooks, /healthz, /readyz, /metrics), the\n"+
			"escalation engine, the outbox delivery and the hand-over notices. SIGINT or SIGTERM stops it cleanly.")
	fs := cmd.fs
	cfgPath := fs.String("config", "", "the configuration `FILE` (required, or "+EnvConfig+")")
	redisURL := fs.String("redis", "", "the organization's Redis `URL` (required: this flag, redis.url or MUSTER_REDIS_URL)")
	listen := fs.String("listen", "", "listen on `ADDR` (default: server.listen)")
	logLevel := fs.String("log-level", "info", "log at `LEVEL`: debug, info, warn or error")
	logFormat := fs.String("log-format", "json", "log lines as `FORMAT`: json or text")
	demo := fs.Bool("demo", false, "try muster: the example organization (or --config) on an in-memory store, lost on exit")
	if code, ok := cmd.parse(args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "muster serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	path := configPath(*cfgPath)
	// A real organization's muster needs its own config and a Redis that
	// outlives the process: without them serve would page the example's
	// fictional people from memory and call itself ready. --demo asks for
	// exactly that, knowingly.
	if *demo && *redisURL != "" {
		fmt.Fprintln(stderr, "muster serve: --demo keeps state in memory; leave out --redis")
		return 2
	}
	if !*demo && path == "" {
		fmt.Fprintf(stderr, "muster serve: no configuration: set --config FILE or %s (or --demo to try muster on the example organization in memory)\n", EnvConfig)
		return 2
	}
	cfg, secrets, ok := loadSettings("serve", path, stderr)
	if !ok {
		return 1
	}
	url := ""
	if !*demo {
		if url = redisURLFor(*redisURL, secrets); url == "" {
			fmt.Fprintf(stderr, "muster serve: no Redis URL: set --redis URL, redis.url or %s (or --demo to keep state in memory)\n", cfg.Redis.URLEnv)
			return 2
		}
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "muster serve:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	if *demo {
		log.Warn("demo mode: " + demoNote)
		fmt.Fprintln(stdout, "muster serve --demo: "+demoNote)
	}
	m := metrics.New(buildinfo.Get())
	a, err := openApp(ctx, cfg, appOptions{cfgPath: path, redisURL: url, clock: clock.Real{}, log: log, secrets: secrets, metrics: m,
		startDown: !*demo})
	if err != nil {
		fmt.Fprintln(stderr, "muster serve:", err)
		return 1
	}
	defer a.st.Close()
	addr := a.cfg.Server.Listen
	if *listen != "" {
		addr = *listen
	}
	a.instrument(m)
	srv := bot.NewServer(log, a.st, m)
	if *demo {
		srv.SetReadyNote("demo mode: " + demoNote)
	}
	// Each platform whose secrets are present is on: its routes are
	// mounted and it joins the chat surfaces before delivery starts.
	var on, off []string
	var adapters []interface{ Run(context.Context) error }
	if secrets.SlackBotToken != "" && (secrets.SlackSigningSecret != "" || secrets.SlackAppToken != "") {
		sl, err := slackbot.New(slackbot.Options{
			Service: a.svc, Store: a.st, Config: a.live,
			BotToken: secrets.SlackBotToken, SigningSecret: secrets.SlackSigningSecret, AppToken: secrets.SlackAppToken,
			APIURL: a.cfg.Slack.APIURL, Clock: a.clock, Logger: log.Named("slack"), Consumer: notify.NewToken(),
			Leases: a.leases(),
		})
		if err != nil {
			fmt.Fprintln(stderr, "muster serve: slack:", err)
			return 1
		}
		a.disp.AddChat(sl)
		if secrets.SlackSigningSecret != "" {
			sl.Register(srv)
		}
		adapters = append(adapters, sl)
		on = append(on, "slack")
	} else {
		off = append(off, "slack")
	}
	if secrets.DiscordBotToken != "" || secrets.DiscordPublicKey != "" {
		dc, err := discord.New(discord.Options{
			Service: a.svc, Store: a.st, Config: a.live,
			BotToken: secrets.DiscordBotToken, AppID: secrets.DiscordAppID, PublicKey: secrets.DiscordPublicKey,
			Clock: a.clock, Logger: log.Named("discord"), Leases: a.leases(),
		})
		if err != nil {
			fmt.Fprintln(stderr, "muster serve: discord:", err)
			return 1
		}
		if dc.HTTPEnabled() {
			srv.Handle("POST /discord/interactions", dc)
		}
		if dc.Posting() {
			a.disp.AddChat(dc)
			// Discord offers sites and plans as choices: a reload
			// registers the commands again with the new ones.
			a.reloaded = append(a.reloaded, func(ctx context.Context) {
				if err := dc.RegisterCommands(ctx); err != nil {
					log.Warn("discord commands not registered again after the reload", zap.Error(err))
				}
			})
		}
		adapters = append(adapters, dc)
		on = append(on, "discord")
	} else {
		off = append(off, "discord")
	}
	if a.twilio {
		h, err := sms.New(sms.Options{Config: a.live, Commands: a.svc, Store: a.st, AuthToken: secrets.TwilioAuthToken,
			PublicURL: a.cfg.Server.PublicURL, Logger: log.Named("twilio")})
		if err != nil {
			fmt.Fprintln(stderr, "muster serve:", err)
			return 1
		}
		h.Mount(srv)
		on = append(on, "twilio")
	} else {
		off = append(off, "twilio")
	}
	// The live operations board (/board): its own reader of the changes
	// stream in every serve process.
	bd := board.New(board.Options{Store: a.st, Commands: a.svc, Logger: log.Named("board"), BaseURL: a.cfg.Server.PublicURL,
		Safety: &board.Safety{Records: a.st, Config: a.live}})
	bd.Mount(srv)
	adapters = append(adapters, bd)
	l := newLoops(ctx, log)
	a.start(l)
	// SIGHUP reloads the configuration (a.reloadOnHangup).
	l.keep("config reload", a.reloadOnHangup())
	for _, ad := range adapters {
		l.keep("platform adapter", ad.Run)
	}
	l.must(func(ctx context.Context) error {
		return srv.ListenAndServe(ctx, addr, func(a net.Addr) {
			log.Info("muster serving", zap.String("addr", a.String()),
				zap.String("platforms", strings.Join(on, ",")), zap.String("off_no_secrets", strings.Join(off, ",")))
			fmt.Fprintf(stdout, "muster serving on http://%s (platforms: %s)\n", a, orNone(on))
		})
	})
	err = l.wait()
	a.finish()
	if err != nil {
		log.Error("server stopped", zap.Error(err))
		return 1
	}
	log.Info("muster stopped cleanly")
	return 0
}

// serveConsoleBoard serves the board of a console on the embedded store
// at addr and says where; a listener that cannot start is reported, not
// fatal: the console works without it. stop ends it.
func serveConsoleBoard(ctx context.Context, a *app, log *zap.Logger, addr string, say io.Writer) (stop func()) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(say, "Board not served: %v (use --board ADDR)\n", err)
		return func() {}
	}
	base := "http://" + ln.Addr().String()
	a.svc.SetBoardURL(base)
	bd := board.New(board.Options{Store: a.st, Commands: a.svc, Logger: log.Named("board"), BaseURL: base,
		Safety: &board.Safety{Records: a.st, Config: a.live}})
	srv := bot.NewServer(log, a.st, nil)
	bd.Mount(srv)
	l := newLoops(ctx, log)
	l.keep("board", bd.Run)
	l.keep("board listener", func(ctx context.Context) error { return srv.Serve(ctx, ln) })
	fmt.Fprintf(say, "Board: %s/board (type /muster board for your sign-in link)\n", base)
	return func() { _ = l.stop() }
}

// demoNote is what serve --demo says at start and in /readyz.
const demoNote = "state lives in memory only and is lost on exit; not for a real organization"

func orNone(s []string) string {
	if len(s) == 0 {
		return "none configured; console and health only"
	}
	return strings.Join(s, ", ")
}

func runRoster(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("roster", "muster roster --site SITE [flags]",
		"Prints who is on duty at a site at any instant, for planning, from the rotation (and the covers in\n"+
			"Redis with --redis).")
	fs := cmd.fs
	cfgPath := fs.String("config", "", "the configuration `FILE` (default: "+EnvConfig+", else the embedded example)")
	siteID := fs.String("site", "", "the `SITE` id (required)")
	at := fs.String("at", "", "at an `RFC3339` instant (default: now)")
	role := fs.String("role", "", "only this `ROLE`")
	when := fs.String("when", "now", "show `WHEN`: now, next or week")
	redisURL := fs.String("redis", "", "read covers from the Redis at `URL` (default: none, rotation only)")
	if code, ok := cmd.parse(args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "muster roster: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := loadConfig(configPath(*cfgPath))
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	site, ok := cfg.Site(*siteID)
	if !ok {
		ids := make([]string, len(cfg.Sites))
		for i, s := range cfg.Sites {
			ids[i] = s.ID
		}
		fmt.Fprintf(stderr, "muster roster: --site must be one of %s\n", strings.Join(ids, ", "))
		return 2
	}
	instant := time.Now()
	if *at != "" {
		if instant, err = time.Parse(time.RFC3339, *at); err != nil {
			fmt.Fprintf(stderr, "muster roster: --at %q is not RFC 3339 (e.g. 2026-11-28T07:00:00Z)\n", *at)
			return 2
		}
	}
	if *when != "now" && *when != "next" && *when != "week" {
		fmt.Fprintln(stderr, "muster roster: --when must be now, next or week")
		return 2
	}
	var overrides []roster.Override
	if *redisURL != "" {
		st, err := store.Open(ctx, store.Options{URL: *redisURL, Namespace: cfg.Namespace})
		if err != nil {
			fmt.Fprintln(stderr, "muster roster:", err)
			return 1
		}
		defer st.Close()
		if overrides, err = st.Overrides(ctx); err != nil {
			fmt.Fprintln(stderr, "muster roster:", err)
			return 1
		}
	}
	text := commands.RosterText
	if *at != "" {
		text = commands.RosterTextAt
	}
	fmt.Fprintln(stdout, text(cfg, []configs.Site{*site}, *role, *when, instant, overrides))
	return 0
}
