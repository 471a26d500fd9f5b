package discord

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

// The application commands are data, written once: each option knows
// how it goes into the one command line that commands.Service parses.

// optKind says how an option's value is written into the command line.
type optKind int

const (
	optWord optKind = iota // one word: an id, a plan, a category
	optSite                // a site: written as @site
	optText                // free text: kept as one argument when it could be misread
	optFlag                // free text after its flag: --<name> <text>, last on the line
)

// maxChoices is Discord's limit on an option's choices.
const maxChoices = 25

// optSpec is one option of a command or subcommand.
type optSpec struct {
	name, desc string
	required   bool
	kind       optKind
	// choices lists the allowed values; nil means free input.
	choices func(*configs.Config) []string
	// keyword, when set, is written before the value: for 4h.
	keyword string
	// channelSite: when not given, the site of the channel the command
	// was typed in, written out (the command would default to it anyway;
	// written out, a note that starts with @ cannot be taken for a site).
	channelSite bool
}

// subSpec is a subcommand. word is what the line says for it ("raise");
// empty for a subcommand that only exists because Discord needs one
// (/roster show is "/roster [@site] ...").
type subSpec struct {
	name, desc, word string
	opts             []optSpec
	// order is the options' order in the command line when it differs
	// from opts (Discord wants required options first).
	order []string
}

// cmdSpec is one application command: either subcommands or options.
type cmdSpec struct {
	name, desc string
	subs       []subSpec
	opts       []optSpec
}

func categories(c *configs.Config) []string { return c.Categories }
func severities(*configs.Config) []string   { return store.Severities }
func sites(c *configs.Config) []string {
	out := make([]string, len(c.Sites))
	for i, s := range c.Sites {
		out[i] = s.ID
	}
	return out
}
func plans(c *configs.Config) []string {
	out := make([]string, len(c.Plans))
	for i, p := range c.Plans {
		out[i] = p.ID
	}
	return out
}
func rosters(c *configs.Config) []string {
	out := make([]string, len(c.Rosters))
	for i, r := range c.Rosters {
		out[i] = r.ID
	}
	return out
}
func people(c *configs.Config) []string {
	out := make([]string, len(c.People))
	for i, p := range c.People {
		out[i] = p.ID
	}
	return out
}
func roles(c *configs.Config) []string {
	return append(append([]string{}, configs.BuiltinRoles...), c.Roles...)
}
func fixed(v ...string) func(*configs.Config) []string {
	return func(*configs.Config) []string { return v }
}

var (
	siteOpt     = optSpec{name: "site", desc: "Site (default: this channel's site)", kind: optSite, choices: sites, channelSite: true}
	incidentOpt = optSpec{name: "incident", desc: "Incident id, e.g. INC-12", required: true}
	planOpt     = optSpec{name: "plan", desc: "Emergency plan", required: true, choices: plans}
	actionOpt   = optSpec{name: "action", desc: "Corrective action id, e.g. CA-3", required: true}
	rollcallOpt = optSpec{name: "rollcall", desc: "Roll call id, e.g. R-2 (default: your newest open one)"}
)

func sitesOrAll(c *configs.Config) []string { return append(sites(c), "all") }

// commandSpecs is muster's grammar (commands.HelpText) as Discord
// application commands.
var commandSpecs = []cmdSpec{
	{name: "incident", desc: "Report and follow incidents", subs: []subSpec{
		{name: "raise", word: "raise", desc: "Report an incident", opts: []optSpec{
			{name: "category", desc: "What kind of incident", required: true, choices: categories},
			{name: "text", desc: "What you see, and where", required: true, kind: optText},
			{name: "severity", desc: "sev1 is the worst (default sev3)", choices: severities},
			siteOpt,
		}, order: []string{"category", "severity", "site", "text"}},
		{name: "list", word: "list", desc: "List incidents", opts: []optSpec{
			{name: "which", desc: "Open ones (default) or all", choices: fixed("open", "all")},
			{name: "site", desc: "Only this site", kind: optSite, choices: sites},
		}},
		{name: "show", word: "show", desc: "Show an incident and its timeline", opts: []optSpec{incidentOpt}},
		{name: "update", word: "update", desc: "Add what you know to an incident", opts: []optSpec{
			incidentOpt, {name: "text", desc: "What changed", required: true, kind: optText}}},
		{name: "resolve", word: "resolve", desc: "Resolve an incident", opts: []optSpec{
			incidentOpt, {name: "summary", desc: "Summary of the outcome", required: true, kind: optText}}},
		{name: "ack", word: "ack", desc: "Acknowledge an incident", opts: []optSpec{incidentOpt}},
	}},
	{name: "plan", desc: "Emergency plans", subs: []subSpec{
		{name: "list", word: "list", desc: "List the plans"},
		{name: "show", word: "show", desc: "Show a plan's tasks", opts: []optSpec{planOpt}},
		{name: "trigger", word: "trigger", desc: "Trigger a plan: tasks for whoever is on duty", opts: []optSpec{
			planOpt, siteOpt, {name: "note", desc: "Why, what responders should know", kind: optText}}},
		{name: "status", word: "status", desc: "Status of an activation (default: the latest)", opts: []optSpec{
			{name: "activation", desc: "Activation id, e.g. A-3"}}},
		{name: "standdown", word: "standdown", desc: "Stand an activation down", opts: []optSpec{
			{name: "activation", desc: "Activation id, e.g. A-3", required: true}}},
		{name: "dryrun", word: "dryrun", desc: "Who would be paged, and when", opts: []optSpec{planOpt, siteOpt}},
	}},
	{name: "roster", desc: "Who is on duty", subs: []subSpec{
		{name: "show", desc: "Who is on duty now, next shift or this week", opts: []optSpec{
			{name: "site", desc: "Site (default: all)", kind: optSite, choices: sites},
			{name: "when", desc: "now (default), next or week", choices: fixed("now", "next", "week")},
			{name: "role", desc: "Only this role", choices: roles},
		}},
		{name: "cover", word: "cover", desc: "Cover a shift: someone stands in", opts: []optSpec{
			{name: "roster", desc: "Roster", required: true, choices: rosters},
			{name: "person", desc: "Who covers", required: true, choices: people},
			{name: "from", desc: "now, HH:MM or 2026-11-28T07:00", required: true},
			{name: "to", desc: "HH:MM, 2026-11-28T19:00 or a length like 4h", required: true},
			{name: "override", desc: "Why it must be this person though a qualification or other duty refuses it", kind: optFlag},
		}},
	}},
	{name: "ack", desc: "Acknowledge a task (default: your newest open one)", opts: []optSpec{
		{name: "task", desc: "Task id, e.g. T-17"},
		{name: "note", desc: "A note; required to acknowledge for someone else", kind: optText},
	}},
	{name: "done", desc: "Mark a task done", opts: []optSpec{
		{name: "task", desc: "Task id, e.g. T-17", required: true},
		{name: "note", desc: "A note", kind: optText},
	}},
	{name: "drill", desc: "Exercise a plan", subs: []subSpec{
		{name: "start", word: "start", desc: "Start a drill of a plan", opts: []optSpec{planOpt, siteOpt}},
		{name: "rollcall", word: "start rollcall", desc: "Start a roll-call drill", opts: []optSpec{siteOpt}},
		{name: "stop", word: "stop", desc: "Stop a drill", opts: []optSpec{{name: "drill", desc: "Drill id, e.g. D-2", required: true}}},
		{name: "report", word: "report", desc: "A drill's results", opts: []optSpec{{name: "drill", desc: "Drill id, e.g. D-2", required: true}}},
	}},
	{name: "action", desc: "Corrective actions", subs: []subSpec{
		{name: "add", word: "add", desc: "Record a corrective action", opts: []optSpec{
			{name: "for", desc: "INC-n, A-n, D-n or review", required: true},
			{name: "owner", desc: "Who will do it", required: true, choices: people},
			{name: "due", desc: "A date like 2026-03-15 or a length like 14d", required: true},
			{name: "text", desc: "What will be done", required: true, kind: optText},
		}},
		{name: "done", word: "done", desc: "Mark a corrective action done", opts: []optSpec{
			actionOpt, {name: "note", desc: "A note", kind: optText}}},
		{name: "verify", word: "verify", desc: "Say whether a done action worked", opts: []optSpec{
			actionOpt,
			{name: "verdict", desc: "Did it work?", required: true, choices: fixed("effective", "ineffective")},
			{name: "note", desc: "How you know", kind: optText},
		}},
		{name: "list", word: "list", desc: "List corrective actions", opts: []optSpec{
			{name: "which", desc: "open (default), mine or overdue", choices: fixed("open", "mine", "overdue")},
			{name: "site", desc: "Only this site", kind: optSite, choices: sites},
		}},
	}},
	{name: "rollcall", desc: "Roll call: is everyone on duty safe?", subs: []subSpec{
		{name: "start", word: "start", desc: "Ask everyone on duty at a site (or all) whether they are safe", opts: []optSpec{
			{name: "site", desc: "Site, or all (default: this channel's site)", kind: optSite, choices: sitesOrAll, channelSite: true},
			{name: "note", desc: "What happened, where to assemble", kind: optText}}},
		{name: "safe", word: "safe", desc: "Answer: I am safe", opts: []optSpec{rollcallOpt}},
		{name: "help", word: "help", desc: "Answer: I need help (raises a sev1 incident)", opts: []optSpec{
			rollcallOpt, {name: "text", desc: "What is wrong, where you are", kind: optText}}},
		{name: "status", word: "status", desc: "A roll call's tally (default: the latest)", opts: []optSpec{rollcallOpt}},
		{name: "stop", word: "stop", desc: "Stop a roll call", opts: []optSpec{
			{name: "rollcall", desc: "Roll call id, e.g. R-2", required: true}}},
	}},
	{name: "checkin", desc: "Lone-worker check-ins", subs: []subSpec{
		{name: "start", word: "start", desc: "Start timed check-ins while you work alone", opts: []optSpec{
			{name: "every", desc: "How often, e.g. 15m", required: true},
			{name: "for", desc: "How long, e.g. 4h (default: until your shift ends)", keyword: "for"},
			{name: "site", desc: "Site (default: where you are on duty)", kind: optSite, choices: sites},
			{name: "note", desc: "Where you are, what you are doing", kind: optText}}},
		{name: "in", word: "in", desc: "Check in"},
		{name: "stop", word: "stop", desc: "Stop your check-ins"},
		{name: "status", word: "status", desc: "Who is working alone, and when each is due"},
	}},
	{name: "muster", desc: "About muster and you", subs: []subSpec{
		{name: "help", word: "help", desc: "The commands"},
		{name: "whoami", word: "whoami", desc: "Who muster thinks you are"},
		{name: "status", word: "status", desc: "Open incidents and tasks"},
	}},
}

// ApplicationCommands is muster's command set for ApplicationCommandBulkOverwrite,
// with the choices (sites, plans, categories...) the config allows.
func ApplicationCommands(cfg *configs.Config) []*discordgo.ApplicationCommand {
	out := make([]*discordgo.ApplicationCommand, 0, len(commandSpecs))
	for _, c := range commandSpecs {
		ac := &discordgo.ApplicationCommand{Type: discordgo.ChatApplicationCommand, Name: c.name, Description: c.desc}
		for _, s := range c.subs {
			ac.Options = append(ac.Options, &discordgo.ApplicationCommandOption{
				Type: discordgo.ApplicationCommandOptionSubCommand, Name: s.name, Description: s.desc,
				Options: options(cfg, s.opts),
			})
		}
		if len(c.subs) == 0 {
			ac.Options = options(cfg, c.opts)
		}
		out = append(out, ac)
	}
	return out
}

func options(cfg *configs.Config, specs []optSpec) []*discordgo.ApplicationCommandOption {
	out := make([]*discordgo.ApplicationCommandOption, 0, len(specs))
	for _, o := range specs {
		opt := &discordgo.ApplicationCommandOption{
			Type: discordgo.ApplicationCommandOptionString, Name: o.name, Description: o.desc, Required: o.required,
		}
		if o.kind == optText || o.kind == optFlag {
			opt.MaxLength = 1500 // leaves room for the rest of the line within commands.MaxInput
		}
		if o.choices != nil {
			if vs := o.choices(cfg); len(vs) > 0 && len(vs) <= maxChoices {
				for _, v := range vs {
					opt.Choices = append(opt.Choices, &discordgo.ApplicationCommandOptionChoice{Name: v, Value: v})
				}
			}
		}
		out = append(out, opt)
	}
	return out
}

// RegisterCommands overwrites the application's commands with muster's:
// in the configured guild (they appear at once) or globally (Discord
// may take up to an hour to show changes).
func (a *Adapter) RegisterCommands(ctx context.Context) error {
	if !a.bot {
		return ErrNoBot
	}
	cmds := ApplicationCommands(a.cfg())
	var got []*discordgo.ApplicationCommand
	err := a.retry(ctx, func() error {
		var err error
		got, err = a.session.ApplicationCommandBulkOverwrite(a.appID, a.guildID, cmds, discordgo.WithContext(ctx))
		return err
	})
	if err != nil {
		return fmt.Errorf("discord: register commands: %w", err)
	}
	scope := "global"
	if a.guildID != "" {
		scope = "guild " + a.guildID
	}
	a.log.Info("discord commands registered", zap.Int("commands", len(got)), zap.String("scope", scope))
	return nil
}

// commandLine turns an application command interaction into the line
// commands.Service parses: "/incident raise fire @harbour smoke". site is
// the site of the channel it was typed in ("" for none). ok is false for
// a command muster does not know.
func commandLine(d discordgo.ApplicationCommandInteractionData, site string) (line string, ok bool) {
	var spec *cmdSpec
	for i := range commandSpecs {
		if commandSpecs[i].name == d.Name {
			spec = &commandSpecs[i]
		}
	}
	if spec == nil {
		return "", false
	}
	words := []string{"/" + spec.name}
	opts, given, order := spec.opts, d.Options, []string(nil)
	if len(spec.subs) > 0 {
		if len(d.Options) == 0 || d.Options[0].Type != discordgo.ApplicationCommandOptionSubCommand {
			return "", false
		}
		var sub *subSpec
		for i := range spec.subs {
			if spec.subs[i].name == d.Options[0].Name {
				sub = &spec.subs[i]
			}
		}
		if sub == nil {
			return "", false
		}
		if sub.word != "" {
			words = append(words, sub.word)
		}
		opts, given, order = sub.opts, d.Options[0].Options, sub.order
	}
	if order != nil {
		opts = reorder(opts, order)
	}
	values := map[string]string{}
	for _, o := range given {
		values[o.Name] = optionString(o)
	}
	for _, o := range opts {
		v := strings.TrimSpace(values[o.name])
		if v == "" && o.channelSite {
			v = site
		}
		if v == "" {
			continue
		}
		switch o.kind {
		case optSite:
			words = append(words, "@"+strings.TrimPrefix(v, "@"))
		case optFlag:
			words = append(words, "--"+o.name, quoteIfNeeded(v, true))
		default:
			if o.keyword != "" {
				words = append(words, o.keyword)
			}
			words = append(words, quoteIfNeeded(v, o.kind == optText))
		}
	}
	return strings.Join(words, " "), true
}

// channelSite is the id of the site whose Discord channel is channel, or "".
func channelSite(cfg *configs.Config, channel string) string {
	for _, s := range cfg.Sites {
		if channel != "" && s.Channels.Discord == channel {
			return s.ID
		}
	}
	return ""
}

// reorder returns opts in the order of names.
func reorder(opts []optSpec, names []string) []optSpec {
	out := make([]optSpec, 0, len(opts))
	for _, n := range names {
		for _, o := range opts {
			if o.name == n {
				out = append(out, o)
			}
		}
	}
	return out
}

// optionString is an option's value as text, whatever its type.
func optionString(o *discordgo.ApplicationCommandInteractionDataOption) string {
	switch v := o.Value.(type) {
	case string:
		return cleanOption(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return ""
	}
	return fmt.Sprint(o.Value)
}

// cleanOption replaces what must not reach records or chat, as the
// commands package does for unquoted text: NUL and other control
// characters (tab and line breaks aside) become U+FFFD. An option's text
// often reaches commands quoted (quoteIfNeeded), and commands keeps
// quoted text byte for byte, so it is cleaned here first.
func cleanOption(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r == 0 || (unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r') {
			return '\uFFFD'
		}
		return r
	}, s)
}

// quotePairs are quotes commands.Tokenize groups by, opening and closing.
var quotePairs = [][2]string{{`"`, `"`}, {"“", "”"}, {"«", "»"}, {"'", "'"}, {"‘", "’"}}

// quoteIfNeeded keeps v one argument when the grammar could misread it:
// a word that starts with @ would be taken for a site, a leading sev2
// for a severity, a leading quote would group differently; a one-word
// option must not split. Plain text goes through as typed.
func quoteIfNeeded(v string, text bool) string {
	fields := strings.Fields(v)
	needs := !text && len(fields) != 1
	for i, f := range fields {
		if strings.HasPrefix(f, "@") || startsWithQuote(f) || (i == 0 && text && isSeverity(f)) {
			needs = true
		}
	}
	if !needs {
		return v
	}
	for _, q := range quotePairs {
		if !strings.Contains(v, q[1]) {
			return q[0] + v + q[1]
		}
	}
	return `"` + strings.ReplaceAll(v, `"`, "'") + `"`
}

func startsWithQuote(f string) bool {
	for _, q := range quotePairs {
		if strings.HasPrefix(f, q[0]) {
			return true
		}
	}
	return strings.HasPrefix(f, "„")
}

func isSeverity(f string) bool {
	for _, s := range store.Severities {
		if strings.EqualFold(f, s) {
			return true
		}
	}
	return false
}
