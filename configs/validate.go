package configs

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Severities are the incident severities, most serious first.
var Severities = []string{"sev1", "sev2", "sev3", "sev4"}

// Defaults applied before validation.
const (
	DefaultListen     = "127.0.0.1:8080"
	DefaultRetention  = 7 * 365 * 24 * time.Hour
	DefaultLease      = 30 * time.Second
	DefaultGather     = 50 * time.Millisecond
	DefaultTwilioRate = 1.0
	// DefaultGrace is lone_worker.grace when unset.
	DefaultGrace = 5 * time.Minute
	// MaxTwilioRate is far above any Twilio sender's real limit; it only
	// catches typos.
	MaxTwilioRate = 10000.0
)

func (c *Config) applyDefaults() {
	if c.Namespace == "" {
		c.Namespace = slug(c.Organization)
	}
	if c.Timezone == "" {
		c.Timezone = "UTC"
	}
	if len(c.Categories) == 0 {
		c.Categories = slices.Clone(DefaultCategories)
	}
	if c.Server.Listen == "" {
		c.Server.Listen = DefaultListen
	}
	if c.Server.Journal == "" {
		c.Server.Journal = "muster-journal.jsonl"
	}
	if c.Redis.URLEnv == "" {
		c.Redis.URLEnv = "MUSTER_REDIS_URL"
	}
	setDefault(&c.Slack.BotTokenEnv, "SLACK_BOT_TOKEN")
	setDefault(&c.Slack.SigningSecretEnv, "SLACK_SIGNING_SECRET")
	setDefault(&c.Slack.AppTokenEnv, "SLACK_APP_TOKEN")
	setDefault(&c.Discord.BotTokenEnv, "DISCORD_BOT_TOKEN")
	setDefault(&c.Discord.AppIDEnv, "DISCORD_APP_ID")
	setDefault(&c.Discord.PublicKeyEnv, "DISCORD_PUBLIC_KEY")
	setDefault(&c.Twilio.AccountSIDEnv, "TWILIO_ACCOUNT_SID")
	setDefault(&c.Twilio.AuthTokenEnv, "TWILIO_AUTH_TOKEN")
	setDefault(&c.Records.SigningKeyEnv, "MUSTER_AUDIT_KEY")
	if c.Twilio.Rate == 0 {
		c.Twilio.Rate = DefaultTwilioRate
	}
	if c.Records.Retention == 0 {
		c.Records.Retention = Duration(DefaultRetention)
	}
	if c.Engine.Lease == 0 {
		c.Engine.Lease = Duration(DefaultLease)
	}
	if c.Engine.Gather == 0 {
		c.Engine.Gather = Duration(DefaultGather)
	}
	if c.LoneWorker.Grace == 0 {
		c.LoneWorker.Grace = Duration(DefaultGrace)
	}
	for i := range c.Rosters {
		r := &c.Rosters[i]
		if r.Duty == "" {
			r.Duty = DutyOnSite
		}
		if r.MaxContinuous == 0 {
			r.MaxContinuous = Duration(DefaultMaxContinuous)
		}
	}
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

var (
	idRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	e164RE   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	envRE    = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	slugTrim = regexp.MustCompile(`[^a-z0-9]+`)
)

func slug(s string) string {
	s = strings.Trim(slugTrim.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if s == "" {
		return "default"
	}
	return s
}

// validator collects problems with their paths and lines.
type validator struct {
	source string
	lines  map[string]int
	probs  Errors
}

func (v *validator) addf(path, format string, args ...any) {
	line := v.lines[path]
	// A missing field has no line: name the line of its parent.
	for p := path; line == 0 && p != ""; {
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
		line = v.lines[p]
	}
	if line == 0 {
		// A missing top-level key (organization): the document's start.
		line = v.lines[""]
	}
	v.probs = append(v.probs, Problem{Source: v.source, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks the meaning of a decoded config and reports every
// problem at once. Parse calls it; call it again after changing a Config
// in code.
func (c *Config) Validate() error {
	if probs := c.validate(nil); len(probs) > 0 {
		return probs
	}
	return nil
}

func (c *Config) validate(lines map[string]int) Errors {
	v := &validator{source: c.Source, lines: lines}
	if strings.TrimSpace(c.Organization) == "" {
		v.addf("organization", "is required")
	}
	if !idRE.MatchString(c.Namespace) {
		v.addf("namespace", "%q must be up to 40 lowercase letters, digits, - or _", c.Namespace)
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		v.addf("timezone", "unknown time zone %q (write an IANA name such as Europe/London)", c.Timezone)
		loc = time.UTC
	}
	c.location = loc

	roles := map[string]bool{}
	for _, r := range BuiltinRoles {
		roles[r] = true
	}
	for i, r := range c.Roles {
		p := fmt.Sprintf("roles[%d]", i)
		if !idRE.MatchString(r) {
			v.addf(p, "%q is not a valid role name", r)
		} else if roles[r] {
			v.addf(p, "duplicate role %q", r)
		}
		roles[r] = true
	}
	seenCat := map[string]bool{}
	for i, cat := range c.Categories {
		p := fmt.Sprintf("categories[%d]", i)
		if !idRE.MatchString(cat) {
			v.addf(p, "%q is not a valid category (lowercase, digits, -)", cat)
		} else if seenCat[cat] {
			v.addf(p, "duplicate category %q", cat)
		}
		seenCat[cat] = true
	}

	sites := map[string]bool{}
	if len(c.Sites) == 0 {
		v.addf("sites", "at least one site is required")
	}
	for i, s := range c.Sites {
		p := fmt.Sprintf("sites[%d]", i)
		checkID(v, p+".id", s.ID, sites, "site")
		if strings.TrimSpace(s.Name) == "" {
			v.addf(p+".name", "is required")
		}
	}

	people := map[string]bool{}
	phones := map[string]string{}
	slackIDs := map[string]string{}
	discordIDs := map[string]string{}
	for i, pr := range c.People {
		p := fmt.Sprintf("people[%d]", i)
		checkID(v, p+".id", pr.ID, people, "person")
		if strings.TrimSpace(pr.Name) == "" {
			v.addf(p+".name", "is required")
		}
		if pr.Phone != "" {
			if !e164RE.MatchString(pr.Phone) {
				v.addf(p+".phone", "%q is not E.164 (write +, country code and number, no spaces: +447700900123)", pr.Phone)
			} else if other, dup := phones[pr.Phone]; dup {
				v.addf(p+".phone", "same phone as %q; SMS replies could not tell them apart", other)
			} else {
				phones[pr.Phone] = pr.ID
			}
		}
		if pr.Slack != "" {
			if other, dup := slackIDs[pr.Slack]; dup {
				v.addf(p+".slack", "same Slack user as %q", other)
			}
			slackIDs[pr.Slack] = pr.ID
		}
		if pr.Discord != "" {
			if other, dup := discordIDs[pr.Discord]; dup {
				v.addf(p+".discord", "same Discord user as %q", other)
			}
			discordIDs[pr.Discord] = pr.ID
		}
		if len(pr.Roles) == 0 {
			v.addf(p+".roles", "give at least one role (%s)", strings.Join(BuiltinRoles, ", "))
		}
		for j, r := range pr.Roles {
			if !roles[r] {
				v.addf(fmt.Sprintf("%s.roles[%d]", p, j), "unknown role %q", r)
			}
		}
		for j, q := range pr.Qualifications {
			qp := fmt.Sprintf("%s.qualifications[%d]", p, j)
			if strings.TrimSpace(q.Name) == "" {
				v.addf(qp+".name", "is required")
			}
			if q.Expires.IsZero() {
				v.addf(qp+".expires", "is required (YYYY-MM-DD)")
			}
		}
	}
	if !c.hasRole(RoleCoordinator) && len(c.People) > 0 {
		v.addf("people", "nobody has the role %q; someone must receive unanswered tasks", RoleCoordinator)
	}

	rosterIDs := map[string]bool{}
	siteRole := map[string]string{}
	for i, r := range c.Rosters {
		p := fmt.Sprintf("rosters[%d]", i)
		checkID(v, p+".id", r.ID, rosterIDs, "roster")
		if !sites[r.Site] {
			v.addf(p+".site", "unknown site %q", r.Site)
		}
		if !roles[r.Role] {
			v.addf(p+".role", "unknown role %q", r.Role)
		}
		if other, dup := siteRole[r.Site+"/"+r.Role]; dup && r.Site != "" {
			v.addf(p, "roster %q already covers role %q at site %q", other, r.Role, r.Site)
		}
		siteRole[r.Site+"/"+r.Role] = r.ID
		sh := r.Rotation.Shift.D()
		switch {
		case sh <= 0:
			v.addf(p+".rotation.shift", "is required (e.g. 12h)")
		case sh < time.Hour || sh%time.Hour != 0:
			v.addf(p+".rotation.shift", "%s must be whole hours", r.Rotation.Shift)
		case sh < 24*time.Hour && (24*time.Hour)%sh != 0:
			v.addf(p+".rotation.shift", "%s must divide a day (1h, 2h, 3h, 4h, 6h, 8h, 12h) or be whole days", r.Rotation.Shift)
		case sh > 24*time.Hour && sh%(24*time.Hour) != 0:
			v.addf(p+".rotation.shift", "%s must be whole days when longer than a day", r.Rotation.Shift)
		}
		if r.Rotation.Start.IsZero() {
			v.addf(p+".rotation.start", "is required (YYYY-MM-DD, the date people[0] works the first shift)")
		}
		if len(r.Rotation.People) == 0 {
			v.addf(p+".rotation.people", "name at least one person")
		}
		for j, id := range r.Rotation.People {
			pp := fmt.Sprintf("%s.rotation.people[%d]", p, j)
			pr, ok := c.Person(id)
			if !ok {
				v.addf(pp, "unknown person %q", id)
			} else if roles[r.Role] && !slices.Contains(pr.Roles, r.Role) {
				v.addf(pp, "%q does not have the role %q", id, r.Role)
			}
		}
		for j, q := range r.Requires {
			if strings.TrimSpace(q) == "" {
				v.addf(fmt.Sprintf("%s.requires[%d]", p, j), "is empty")
			}
		}
		switch r.Duty {
		case DutyOnSite, DutyRemote, DutyOnCall:
		default:
			v.addf(p+".duty", "%q must be %s, %s or %s", r.Duty, DutyOnSite, DutyRemote, DutyOnCall)
		}
		if mc := r.MaxContinuous.D(); mc < time.Hour || mc%time.Minute != 0 {
			v.addf(p+".max_continuous", "%s must be whole minutes, at least 1h", r.MaxContinuous)
		}
	}
	if len(v.probs) == 0 {
		// Only rotations that are right on their own can be laid side by
		// side.
		c.checkRotations(v)
	}

	policies := map[string]bool{}
	for i, pol := range c.Policies {
		p := fmt.Sprintf("policies[%d]", i)
		checkID(v, p+".id", pol.ID, policies, "policy")
		if len(pol.Steps) == 0 {
			v.addf(p+".steps", "give at least one step")
		}
		if pol.Repeat < 0 || pol.Repeat > 10 {
			v.addf(p+".repeat", "%d must be between 0 and 10", pol.Repeat)
		}
		for j, st := range pol.Steps {
			sp := fmt.Sprintf("%s.steps[%d]", p, j)
			if len(st.Notify) == 0 && st.EscalateTo == nil && len(st.Tell) == 0 && st.Raise == "" {
				v.addf(sp, "a step must notify, escalate_to, tell or raise")
			}
			for k, r := range st.Tell {
				if !roles[r] {
					v.addf(fmt.Sprintf("%s.tell[%d]", sp, k), "unknown role %q", r)
				}
			}
			if st.Raise != "" && !slices.Contains(Severities, st.Raise) {
				v.addf(sp+".raise", "%q must be sev1, sev2, sev3 or sev4", st.Raise)
			}
			for k, ch := range st.Notify {
				if ch != ChannelChat && ch != ChannelSMS && ch != ChannelVoice {
					v.addf(fmt.Sprintf("%s.notify[%d]", sp, k), "unknown channel %q (chat, sms or voice)", ch)
				}
			}
			if st.Wait.D() < 0 {
				v.addf(sp+".wait", "must not be negative")
			} else if st.Wait.D() == 0 {
				v.addf(sp+".wait", "is required (how long to wait for an acknowledgement, e.g. 2m)")
			}
			if t := st.EscalateTo; t != nil {
				tp := sp + ".escalate_to"
				switch {
				case (t.Role == "") == (t.Person == ""):
					v.addf(tp, "give exactly one of role or person")
				case t.Role != "" && !roles[t.Role]:
					v.addf(tp+".role", "unknown role %q", t.Role)
				case t.Person != "" && !people[t.Person]:
					v.addf(tp+".person", "unknown person %q", t.Person)
				}
			}
		}
	}

	planIDs := map[string]bool{}
	for i, pl := range c.Plans {
		p := fmt.Sprintf("plans[%d]", i)
		checkID(v, p+".id", pl.ID, planIDs, "plan")
		if strings.TrimSpace(pl.Name) == "" {
			v.addf(p+".name", "is required")
		}
		if pl.Version < 1 {
			v.addf(p+".version", "is required (1 or more; raise it with every change to the plan)")
		}
		if strings.TrimSpace(pl.Broadcast) == "" {
			v.addf(p+".broadcast", "is required (the message posted to the site channel)")
		}
		if pl.Target.D() < 0 {
			v.addf(p+".target", "must not be negative")
		}
		for j, r := range pl.TriggeredBy {
			if !roles[r] {
				v.addf(fmt.Sprintf("%s.triggered_by[%d]", p, j), "unknown role %q", r)
			}
		}
		if len(pl.Tasks) == 0 {
			v.addf(p+".tasks", "give at least one task")
		}
		for j, t := range pl.Tasks {
			tp := fmt.Sprintf("%s.tasks[%d]", p, j)
			if strings.TrimSpace(t.Title) == "" {
				v.addf(tp+".title", "is required")
			}
			if !roles[t.Role] {
				v.addf(tp+".role", "unknown role %q", t.Role)
			}
			if !policies[t.Policy] && !c.hasPolicy(t.Policy) {
				v.addf(tp+".policy", "unknown policy %q", t.Policy)
			}
		}
	}

	drilled := map[string]bool{}
	for i, d := range c.Drills.Schedule {
		p := fmt.Sprintf("drills.schedule[%d]", i)
		if !c.hasPlan(d.Plan) {
			v.addf(p+".plan", "unknown plan %q", d.Plan)
		}
		if !sites[d.Site] {
			v.addf(p+".site", "unknown site %q", d.Site)
		}
		if e := d.Every.D(); e < 24*time.Hour || e%(24*time.Hour) != 0 {
			v.addf(p+".every", "%s must be whole days, at least 1d (e.g. 90d)", d.Every)
		}
		if d.Start.IsZero() {
			v.addf(p+".start", "is required (YYYY-MM-DD, the first day a drill is due)")
		}
		if drilled[d.Plan+"@"+d.Site] {
			v.addf(p, "plan %q at site %q is already scheduled", d.Plan, d.Site)
		}
		drilled[d.Plan+"@"+d.Site] = true
	}

	c.validateObligations(v, sites, roles)

	if u := c.Server.PublicURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			v.addf("server.public_url", "%q is not an http(s) URL", u)
		}
	}
	for path, u := range map[string]string{"slack.api_url": c.Slack.APIURL, "discord.api_url": c.Discord.APIURL, "twilio.api_url": c.Twilio.APIURL} {
		if u == "" {
			continue
		}
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			v.addf(path, "%q is not an http(s) URL", u)
		}
	}
	for path, name := range map[string]string{
		"redis.url_env": c.Redis.URLEnv, "slack.bot_token_env": c.Slack.BotTokenEnv,
		"slack.signing_secret_env": c.Slack.SigningSecretEnv, "slack.app_token_env": c.Slack.AppTokenEnv,
		"discord.bot_token_env": c.Discord.BotTokenEnv, "discord.app_id_env": c.Discord.AppIDEnv,
		"discord.public_key_env": c.Discord.PublicKeyEnv, "twilio.account_sid_env": c.Twilio.AccountSIDEnv,
		"twilio.auth_token_env": c.Twilio.AuthTokenEnv, "records.signing_key_env": c.Records.SigningKeyEnv,
	} {
		if !envRE.MatchString(name) {
			// The value is not quoted: it may well be the secret itself.
			v.addf(path, "is not an environment variable name (A-Z, 0-9 and _); secrets are never written in the file, so the value is not shown")
		}
	}
	if f := c.Twilio.From; f != "" && !e164RE.MatchString(f) {
		v.addf("twilio.from", "%q is not E.164", f)
	}
	if r := c.Twilio.Rate; !(r >= 0 && r <= MaxTwilioRate) { // NaN too
		v.addf("twilio.rate", "%v must be between 0 and %v messages per second", c.Twilio.Rate, MaxTwilioRate)
	}
	if c.Records.Retention.D() < 0 {
		v.addf("records.retention", "must not be negative")
	}
	for _, sec := range []struct{ path, policy, category string }{
		{"rollcall", c.RollCall.Policy, c.RollCall.HelpCategory},
		{"lone_worker", c.LoneWorker.Policy, c.LoneWorker.HelpCategory},
	} {
		if sec.policy != "" && !c.hasPolicy(sec.policy) {
			v.addf(sec.path+".policy", "unknown policy %q", sec.policy)
		}
		if sec.category != "" && !slices.Contains(c.Categories, sec.category) {
			v.addf(sec.path+".help_category", "unknown incident category %q", sec.category)
		}
	}
	if g := c.LoneWorker.Grace.D(); g < 0 {
		v.addf("lone_worker.grace", "must not be negative")
	}
	if c.Engine.Lease.D() < time.Second {
		v.addf("engine.lease", "%s is too short (at least 1s)", c.Engine.Lease)
	}
	if g := c.Engine.Gather.D(); g < 0 || g > time.Second {
		v.addf("engine.gather", "%s is out of range (0s to 1s: how late a deadline may run so that several run together)", c.Engine.Gather)
	}
	// Keep the output in file order: errors found late (a plan) may sit
	// on earlier lines than ones found early (a person).
	slices.SortStableFunc(v.probs, func(a, b Problem) int { return a.Line - b.Line })
	return v.probs
}

func checkID(v *validator, path, id string, seen map[string]bool, what string) {
	switch {
	case id == "":
		v.addf(path, "is required")
	case !idRE.MatchString(id):
		v.addf(path, "%q is not a valid %s id (lowercase letters, digits, - and _, up to 40)", id, what)
	case seen[id]:
		v.addf(path, "duplicate %s id %q", what, id)
	}
	seen[id] = true
}

func (c *Config) hasRole(role string) bool {
	for _, p := range c.People {
		if slices.Contains(p.Roles, role) {
			return true
		}
	}
	return false
}

func (c *Config) hasPlan(id string) bool {
	_, ok := c.Plan(id)
	return ok
}

func (c *Config) hasPolicy(id string) bool {
	for _, p := range c.Policies {
		if p.ID == id {
			return true
		}
	}
	return false
}

// validateObligations checks contacts, obligations and the board's
// displays.
func (c *Config) validateObligations(v *validator, sites, roles map[string]bool) {
	contacts := map[string]bool{}
	for i, ct := range c.Contacts {
		p := fmt.Sprintf("contacts[%d]", i)
		checkID(v, p+".id", ct.ID, contacts, "contact")
		if strings.TrimSpace(ct.Name) == "" {
			v.addf(p+".name", "is required")
		}
		if ct.Kind == "" {
			v.addf(p+".kind", "is required (police, regulator, client, insurer, ...)")
		} else if !idRE.MatchString(ct.Kind) {
			v.addf(p+".kind", "%q must be one lowercase word (police, regulator, client, insurer, ...)", ct.Kind)
		}
		if ct.Phone != "" && !e164RE.MatchString(ct.Phone) {
			v.addf(p+".phone", "%q is not E.164 (write +, country code and number, no spaces: +447700900123)", ct.Phone)
		}
	}
	obligations := map[string]bool{}
	for i, o := range c.Obligations {
		p := fmt.Sprintf("obligations[%d]", i)
		checkID(v, p+".id", o.ID, obligations, "obligation")
		switch {
		case o.Notify == "":
			v.addf(p+".notify", "is required (a contact id)")
		case !contacts[o.Notify]:
			v.addf(p+".notify", "unknown contact %q", o.Notify)
		}
		for j, cat := range o.When.Categories {
			if !slices.Contains(c.Categories, cat) {
				v.addf(fmt.Sprintf("%s.when.categories[%d]", p, j), "unknown category %q", cat)
			}
		}
		if ms := o.When.MinSeverity; ms != "" && !slices.Contains([]string{"sev1", "sev2", "sev3", "sev4"}, ms) {
			v.addf(p+".when.min_severity", "%q must be sev1, sev2, sev3 or sev4", ms)
		}
		for j, s := range o.When.Sites {
			if !sites[s] {
				v.addf(fmt.Sprintf("%s.when.sites[%d]", p, j), "unknown site %q", s)
			}
		}
		if o.Within.D() <= 0 {
			v.addf(p+".within", "is required (how long muster has to tell the contact, e.g. 1h)")
		} else if o.Within.D() < time.Minute {
			v.addf(p+".within", "%s is too short (at least 1m)", o.Within)
		}
		switch {
		case o.Owner == "":
			v.addf(p+".owner", "is required (the role whose on-duty holder makes the call)")
		case !roles[o.Owner]:
			v.addf(p+".owner", "unknown role %q", o.Owner)
		}
	}
	displays := map[string]bool{}
	tokens := map[string]string{}
	for i, d := range c.Board.Displays {
		p := fmt.Sprintf("board.displays[%d]", i)
		checkID(v, p+".id", d.ID, displays, "display")
		for j, s := range d.Sites {
			if !sites[s] {
				v.addf(fmt.Sprintf("%s.sites[%d]", p, j), "unknown site %q", s)
			}
		}
		switch {
		case d.TokenEnv == "":
			v.addf(p+".token_env", "is required (the environment variable holding the display's token)")
		case !envRE.MatchString(d.TokenEnv):
			v.addf(p+".token_env", "is not an environment variable name (A-Z, 0-9 and _); secrets are never written in the file, so the value is not shown")
		case tokens[d.TokenEnv] != "":
			v.addf(p+".token_env", "same variable as display %q; each display needs its own token", tokens[d.TokenEnv])
		default:
			tokens[d.TokenEnv] = d.ID
		}
	}
}
