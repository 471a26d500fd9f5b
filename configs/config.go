// Package configs holds muster's configuration: the schema, strict YAML
// loading with line numbers, Validate() that reports every semantic error
// with its field path, and the embedded example that is the default.
package configs

import (
	"slices"
	"time"
)

// The four roles muster's permissions are built on. A config may add more
// roles (fire-warden, medic), but these always exist.
const (
	RoleGuard       = "guard"
	RoleSupervisor  = "supervisor"
	RoleControl     = "control"
	RoleCoordinator = "coordinator"
)

// BuiltinRoles are the roles every organization has.
var BuiltinRoles = []string{RoleGuard, RoleSupervisor, RoleControl, RoleCoordinator}

// DefaultCategories are the incident categories used when a config sets none.
var DefaultCategories = []string{
	"intrusion", "fire", "medical", "theft", "suspicious-activity",
	"access-control", "injury", "use-of-force", "hazard", "other",
}

// Config is one organization's muster configuration.
type Config struct {
	// Organization is the display name, e.g. "Northgate Security".
	Organization string `yaml:"organization"`
	// Namespace separates this organization's keys in Redis
	// (muster:{namespace}:...). Defaults to a slug of Organization.
	Namespace string `yaml:"namespace"`
	// Timezone is the IANA zone rosters and reports use, e.g. Europe/London.
	Timezone string `yaml:"timezone"`
	// Roles adds organization-specific roles to the built-in four.
	Roles []string `yaml:"roles"`
	// Categories replaces DefaultCategories when set.
	Categories []string `yaml:"categories"`
	Sites      []Site   `yaml:"sites"`
	People     []Person `yaml:"people"`
	Rosters    []Roster `yaml:"rosters"`
	Policies   []Policy `yaml:"policies"`
	Plans      []Plan   `yaml:"plans"`
	Server     Server   `yaml:"server"`
	Redis      Redis    `yaml:"redis"`
	Slack      Slack    `yaml:"slack"`
	Discord    Discord  `yaml:"discord"`
	Twilio     Twilio   `yaml:"twilio"`
	Records    Records  `yaml:"records"`
	Drills     Drills   `yaml:"drills"`
	Engine     Engine   `yaml:"engine"`
	// RollCall and LoneWorker configure the people-safety flows
	// (/rollcall, /checkin).
	RollCall   RollCall   `yaml:"rollcall"`
	LoneWorker LoneWorker `yaml:"lone_worker"`
	// Contacts are the outside parties muster may be obliged to tell
	// about an incident: the police, a regulator, a client, an insurer.
	Contacts []Contact `yaml:"contacts"`
	// Obligations are duties to tell a contact about certain incidents
	// within a deadline; each matching incident starts a clock.
	Obligations []Obligation `yaml:"obligations"`
	// Board configures the live operations board (/board).
	Board Board `yaml:"board"`

	// Source is the file the config was read from ("<embedded example>"
	// for the default). Not part of the YAML.
	Source string `yaml:"-"`
	// location is Timezone, loaded by Validate.
	location *time.Location
	// peopleIndex finds people without a scan (lookup.go).
	peopleIndex *peopleIndex
}

// Site is a guarded place: a building, a campus, a port.
type Site struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"`
	Channels Channels `yaml:"channels"`
}

// Channels names where a site's broadcasts go on each platform.
type Channels struct {
	// Slack is a channel id (C0123ABC).
	Slack string `yaml:"slack"`
	// Discord is a channel snowflake.
	Discord string `yaml:"discord"`
}

// Person is anyone muster may page: guards, supervisors, control room
// operators, coordinators.
type Person struct {
	ID    string `yaml:"id"`
	Name  string `yaml:"name"`
	Phone string `yaml:"phone"` // E.164, e.g. +447700900001
	// Slack is the Slack user id (U0123ABC).
	Slack string `yaml:"slack"`
	// Discord is the Discord user snowflake.
	Discord        string          `yaml:"discord"`
	Roles          []string        `yaml:"roles"`
	Qualifications []Qualification `yaml:"qualifications"`
}

// Qualification is a licence or training a roster may require.
type Qualification struct {
	Name    string `yaml:"name"`
	Expires Date   `yaml:"expires"`
}

// Roster says who holds one role at one site, shift by shift.
type Roster struct {
	ID       string   `yaml:"id"`
	Site     string   `yaml:"site"`
	Role     string   `yaml:"role"`
	Rotation Rotation `yaml:"rotation"`
	// Requires lists qualifications a person needs, valid for the whole
	// shift, to be put on duty; others are skipped for the next in line.
	Requires []string `yaml:"requires"`
	// Duty says where the role is held: DutyOnSite (the default),
	// DutyRemote or DutyOnCall.
	Duty string `yaml:"duty"`
	// MaxContinuous is the longest anyone may be on duty without a break
	// (default 16h), counting their shifts and covers on every roster
	// that is not on call, back to back.
	MaxContinuous Duration `yaml:"max_continuous"`
}

// Where a roster's role is held (Roster.Duty).
const (
	// DutyOnSite: at the site. Nobody can be at two sites at once.
	DutyOnSite = "on_site"
	// DutyRemote: away from the site, at one desk for every site it
	// serves (a control room): one person may hold remote rosters of
	// several sites at once, but not a remote roster and a site's.
	DutyRemote = "remote"
	// DutyOnCall: reachable, not working (a coordinator's week on call):
	// at no place, and not counted towards MaxContinuous.
	DutyOnCall = "on_call"
)

// DefaultMaxContinuous is Roster.MaxContinuous when a config sets none.
const DefaultMaxContinuous = 16 * time.Hour

// Place is where someone on duty on r is: "site:<id>" on site, "remote"
// for every remote roster, "" on call (nowhere).
func (r *Roster) Place() string {
	switch r.Duty {
	case DutyRemote:
		return DutyRemote
	case DutyOnCall:
		return ""
	}
	return "site:" + r.Site
}

// Working reports whether time on duty on r counts towards
// MaxContinuous (every roster but an on-call one).
func (r *Roster) Working() bool { return r.Duty != DutyOnCall }

// Limit is r's MaxContinuous, or the default.
func (r *Roster) Limit() time.Duration {
	if r.MaxContinuous > 0 {
		return r.MaxContinuous.D()
	}
	return DefaultMaxContinuous
}

// Rotation is a fixed cycle of shifts. Shifts start at Handover local time
// and every Shift after it, so a 12h rotation with handover 07:00 hands
// over at 07:00 and 19:00 local time, whatever the DST offset.
type Rotation struct {
	Shift    Duration `yaml:"shift"`
	Handover Clock    `yaml:"handover"`
	// Start is the local date whose first shift People[0] works.
	Start  Date     `yaml:"start"`
	People []string `yaml:"people"`
}

// Policy is an escalation policy: what happens, step by step, while a task
// stays unacknowledged.
type Policy struct {
	ID    string `yaml:"id"`
	Steps []Step `yaml:"steps"`
	// Repeat runs the steps this many more times before the task is
	// marked unanswered.
	Repeat int `yaml:"repeat"`
}

// Step is one escalation step: optionally re-assign, then notify the
// assignee on the listed channels, then wait.
type Step struct {
	// EscalateTo re-assigns the task before notifying.
	EscalateTo *Target `yaml:"escalate_to"`
	// Notify lists channels: chat, sms, voice.
	Notify []string `yaml:"notify"`
	// Wait is how long to wait for an acknowledgement before the next step.
	Wait Duration `yaml:"wait"`
	// Tell lists roles whose on-duty holders at the site are told that
	// the person has not answered (roll call, lone-worker check-in, task),
	// without taking the task over; "coordinator" means every coordinator.
	Tell []string `yaml:"tell"`
	// Raise, when set (sev1..sev4), raises an incident at the site about
	// the unanswered person or task.
	Raise string `yaml:"raise"`
}

// RollCall configures /rollcall.
type RollCall struct {
	// Policy is the escalation policy of each person's "Are you safe?"
	// question: its first step asks (a chat card with Safe and Need help,
	// an SMS, a voice call), later steps remind, tell and raise.
	Policy string `yaml:"policy"`
	// HelpCategory is the category of the sev1 incident a HELP raises.
	HelpCategory string `yaml:"help_category"`
}

// LoneWorker configures /checkin.
type LoneWorker struct {
	// Policy is the escalation of a missed check-in, after the reminder.
	Policy string `yaml:"policy"`
	// Grace is how long the reminder (chat and SMS at the missed time)
	// waits before the policy's first step.
	Grace Duration `yaml:"grace"`
	// HelpCategory is the category of the sev1 incident a missed
	// check-in's raise step or an SMS HELP from a lone worker raises.
	HelpCategory string `yaml:"help_category"`
}

// Target is whom a step escalates to: the on-duty holder of a role at the
// task's site, or a named person.
type Target struct {
	Role   string `yaml:"role"`
	Person string `yaml:"person"`
}

// Notification channels of a step.
const (
	ChannelChat  = "chat"
	ChannelSMS   = "sms"
	ChannelVoice = "voice"
)

// Plan is a documented emergency plan: who may trigger it, what it
// broadcasts, and the tasks it creates.
type Plan struct {
	ID      string `yaml:"id"`
	Name    string `yaml:"name"`
	Version int    `yaml:"version"`
	// TriggeredBy lists roles allowed to trigger it; coordinators always may.
	TriggeredBy []string `yaml:"triggered_by"`
	Broadcast   string   `yaml:"broadcast"`
	// Target is the time within which every task should be acknowledged;
	// drills are judged against it.
	Target Duration   `yaml:"target"`
	Tasks  []PlanTask `yaml:"tasks"`
}

// PlanTask becomes one task per activation.
type PlanTask struct {
	Title  string `yaml:"title"`
	Role   string `yaml:"role"`
	Policy string `yaml:"policy"`
	// LiveOnly tasks (call the fire brigade) are simulated in drills.
	LiveOnly bool `yaml:"live_only"`
}

// Server is the HTTP listener.
type Server struct {
	// Listen is host:port; default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// PublicURL is the address the platforms call; Twilio signs it.
	PublicURL string `yaml:"public_url"`
	// Journal is the local file degraded mode writes to while Redis is down.
	Journal string `yaml:"journal"`
}

// Redis says where state lives. No URL: an embedded in-memory server.
type Redis struct {
	// URL may be set here, but usually comes from URLEnv.
	URL string `yaml:"url"`
	// URLEnv names the environment variable holding the URL
	// (default MUSTER_REDIS_URL).
	URLEnv string `yaml:"url_env"`
}

// Slack configures the Slack app. Secrets come from the environment.
type Slack struct {
	APIURL           string `yaml:"api_url"`
	BotTokenEnv      string `yaml:"bot_token_env"`
	SigningSecretEnv string `yaml:"signing_secret_env"`
	AppTokenEnv      string `yaml:"app_token_env"`
}

// Discord configures the Discord application. Secrets come from the
// environment.
type Discord struct {
	APIURL       string `yaml:"api_url"`
	BotTokenEnv  string `yaml:"bot_token_env"`
	AppIDEnv     string `yaml:"app_id_env"`
	PublicKeyEnv string `yaml:"public_key_env"`
	// GuildID registers commands in one guild (instant) instead of globally.
	GuildID string `yaml:"guild_id"`
}

// Twilio configures SMS and voice.
type Twilio struct {
	APIURL string `yaml:"api_url"`
	// AccountSID may be written here (it is not a secret) or come from
	// AccountSIDEnv.
	AccountSID    string `yaml:"account_sid"`
	AccountSIDEnv string `yaml:"account_sid_env"`
	AuthTokenEnv  string `yaml:"auth_token_env"`
	// From is the sending number (E.164), or use MessagingServiceSID.
	From                string `yaml:"from"`
	MessagingServiceSID string `yaml:"messaging_service_sid"`
	// Rate is messages per second the sender may send (default 1, a long
	// code; short codes and Messaging Services allow 100+).
	Rate float64 `yaml:"rate"`
}

// Drills says how often each plan is exercised, for the management
// review (drills planned against drills held).
type Drills struct {
	// Schedule lists, per plan and site, when a drill is due.
	Schedule []DrillSchedule `yaml:"schedule"`
}

// DrillSchedule: a drill of Plan at Site is due on Start and every Every
// (whole days) after it.
type DrillSchedule struct {
	Plan  string   `yaml:"plan"`
	Site  string   `yaml:"site"`
	Every Duration `yaml:"every"`
	Start Date     `yaml:"start"`
}

// Due lists the days a drill is due that fall in [from, to), each day
// starting at local midnight in loc.
func (d DrillSchedule) Due(from, to time.Time, loc *time.Location) []Date {
	days := int(d.Every.D() / (24 * time.Hour))
	if days < 1 || d.Start.IsZero() {
		return nil
	}
	start := d.Start.In(loc)
	// The first due day at or after from: skip whole cycles, then step.
	k := 0
	if gap := from.Sub(start); gap > 0 {
		k = max(int(gap/(time.Duration(days)*24*time.Hour))-1, 0)
	}
	var out []Date
	for ; ; k++ {
		day := start.AddDate(0, 0, k*days)
		if !day.Before(to) {
			return out
		}
		if !day.Before(from) {
			out = append(out, Date{day.Year(), int(day.Month()), day.Day()})
		}
	}
}

// Records configures how long records are kept and how the audit chain
// is signed.
type Records struct {
	// Retention defaults to 7 years of 365 days (2555d, 61320h).
	Retention Duration `yaml:"retention"`
	// SigningKeyEnv names the variable holding the Ed25519 seed (64 hex
	// digits) the audit chain's heads are signed with (default
	// MUSTER_AUDIT_KEY).
	SigningKeyEnv string `yaml:"signing_key_env"`
	// SealLog, when set, is a file outside Redis every signed head is
	// appended to, so `muster audit verify --seal-log` can catch a
	// truncated chain.
	SealLog string `yaml:"seal_log"`
}

// Engine tunes the escalation engine.
type Engine struct {
	// Lease is how long a claimed timer stays claimed before another
	// process may take it over (default 30s).
	Lease Duration `yaml:"lease"`
	// Gather is how long past a deadline an engine waits, so the
	// deadlines falling due meanwhile are claimed and run together, in
	// one claim and one script, instead of one at a time (default 50ms;
	// at most 1s). Work that starts now (a trigger, a roll call) is not
	// held: it wakes the engines at once. Read at start.
	Gather Duration `yaml:"gather"`
}

// Contact is an outside party an obligation names.
type Contact struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Kind groups contacts in the management review: police, regulator,
	// client, insurer or another word.
	Kind string `yaml:"kind"`
	// Phone (E.164) lets /incident send text the contact.
	Phone string `yaml:"phone"`
}

// Obligation is a duty to tell a contact about matching incidents within
// a deadline, owned by the on-duty holder of a role at the incident's
// site.
type Obligation struct {
	ID     string         `yaml:"id"`
	Notify string         `yaml:"notify"`
	When   ObligationWhen `yaml:"when"`
	Within Duration       `yaml:"within"`
	Owner  string         `yaml:"owner"`
}

// ObligationWhen says which incidents an obligation applies to; an empty
// list matches every value.
type ObligationWhen struct {
	Categories []string `yaml:"categories"`
	// MinSeverity matches that severity and worse (sev1 is the worst);
	// empty matches every severity.
	MinSeverity string   `yaml:"min_severity"`
	Sites       []string `yaml:"sites"`
}

// Matches reports whether an incident of category and severity at site
// falls under o.
func (o *Obligation) Matches(category, severity, site string) bool {
	if len(o.When.Categories) > 0 && !slices.Contains(o.When.Categories, category) {
		return false
	}
	if len(o.When.Sites) > 0 && !slices.Contains(o.When.Sites, site) {
		return false
	}
	if o.When.MinSeverity != "" && (severity == "" || severity > o.When.MinSeverity) {
		// "sev1" < "sev2" < ... : a higher number is less severe.
		return false
	}
	return true
}

// Board configures the live operations board.
type Board struct {
	// Displays are wall screens that show the board read-only, each with
	// its own token.
	Displays []Display `yaml:"displays"`
}

// Display is one read-only wall display of the board.
type Display struct {
	ID string `yaml:"id"`
	// Sites it shows; empty shows every site.
	Sites []string `yaml:"sites"`
	// TokenEnv names the environment variable holding its token.
	TokenEnv string `yaml:"token_env"`
}
