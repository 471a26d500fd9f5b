package configs

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Location is the organization's time zone (UTC if Validate has not run).
func (c *Config) Location() *time.Location {
	if c.location == nil {
		if loc, err := time.LoadLocation(c.Timezone); err == nil {
			c.location = loc
		} else {
			c.location = time.UTC
		}
	}
	return c.location
}

// Person finds a person by id.
func (c *Config) Person(id string) (*Person, bool) {
	return c.lookupPerson(id, func(x *peopleIndex) map[string]int { return x.byID }, func(p *Person) string { return p.ID })
}

// peopleIndex finds a person by id, phone, Slack or Discord user id
// without a scan: an organization may have thousands of people, and a
// roll call's tally names each of them every time it is drawn. Parse
// builds it once the config is valid; the config is not changed after.
type peopleIndex struct {
	byID, byPhone, bySlack, byDiscord map[string]int
}

func (c *Config) indexPeople() {
	x := &peopleIndex{byID: map[string]int{}, byPhone: map[string]int{}, bySlack: map[string]int{}, byDiscord: map[string]int{}}
	add := func(m map[string]int, key string, i int) {
		if _, dup := m[key]; key != "" && !dup {
			m[key] = i // the first, as a scan finds
		}
	}
	for i := range c.People {
		p := &c.People[i]
		add(x.byID, p.ID, i)
		add(x.byPhone, p.Phone, i)
		add(x.bySlack, p.Slack, i)
		add(x.byDiscord, p.Discord, i)
	}
	c.peopleIndex = x
}

// lookupPerson finds the person whose key is value: by the index when it
// has them, else by a scan. The index entry is checked against the person
// it points to, and a miss is scanned, so a Config built or changed after
// Parse (as tests do) is still searched right, only slower.
func (c *Config) lookupPerson(value string, in func(*peopleIndex) map[string]int, key func(*Person) string) (*Person, bool) {
	if value == "" {
		return nil, false
	}
	if c.peopleIndex != nil {
		if i, ok := in(c.peopleIndex)[value]; ok && i < len(c.People) && key(&c.People[i]) == value {
			return &c.People[i], true
		}
	}
	for i := range c.People {
		if key(&c.People[i]) == value {
			return &c.People[i], true
		}
	}
	return nil, false
}

// Contact finds an outside contact by id.
func (c *Config) Contact(id string) (*Contact, bool) {
	for i := range c.Contacts {
		if c.Contacts[i].ID == id {
			return &c.Contacts[i], true
		}
	}
	return nil, false
}

// ContactPrefix marks an outbox recipient that is a contact, not a
// person: "contact:police".
const ContactPrefix = "contact:"

// Recipient finds whom an outgoing message's To names: a person by id,
// or a contact ("contact:<id>") as a person-shaped recipient with the
// contact's name and phone. Only delivery uses it: a contact is never a
// sender.
func (c *Config) Recipient(id string) (*Person, bool) {
	if cid, ok := strings.CutPrefix(id, ContactPrefix); ok {
		ct, ok := c.Contact(cid)
		if !ok {
			return nil, false
		}
		return &Person{ID: id, Name: ct.Name, Phone: ct.Phone}, true
	}
	return c.Person(id)
}

// Obligation finds an obligation by id.
func (c *Config) Obligation(id string) (*Obligation, bool) {
	for i := range c.Obligations {
		if c.Obligations[i].ID == id {
			return &c.Obligations[i], true
		}
	}
	return nil, false
}

// MatchingObligations lists the obligations an incident of category and
// severity at site falls under, in config order.
func (c *Config) MatchingObligations(category, severity, site string) []*Obligation {
	var out []*Obligation
	for i := range c.Obligations {
		if c.Obligations[i].Matches(category, severity, site) {
			out = append(out, &c.Obligations[i])
		}
	}
	return out
}

// PersonBySlack finds the person with a Slack user id.
func (c *Config) PersonBySlack(userID string) (*Person, bool) {
	return c.lookupPerson(userID, func(x *peopleIndex) map[string]int { return x.bySlack }, func(p *Person) string { return p.Slack })
}

// PersonByDiscord finds the person with a Discord user id.
func (c *Config) PersonByDiscord(userID string) (*Person, bool) {
	return c.lookupPerson(userID, func(x *peopleIndex) map[string]int { return x.byDiscord }, func(p *Person) string { return p.Discord })
}

// PersonByPhone finds the person with an E.164 phone number.
func (c *Config) PersonByPhone(phone string) (*Person, bool) {
	return c.lookupPerson(phone, func(x *peopleIndex) map[string]int { return x.byPhone }, func(p *Person) string { return p.Phone })
}

// Site finds a site by id.
func (c *Config) Site(id string) (*Site, bool) {
	for i := range c.Sites {
		if c.Sites[i].ID == id {
			return &c.Sites[i], true
		}
	}
	return nil, false
}

// Plan finds a plan by id.
func (c *Config) Plan(id string) (*Plan, bool) {
	for i := range c.Plans {
		if c.Plans[i].ID == id {
			return &c.Plans[i], true
		}
	}
	return nil, false
}

// Policy finds an escalation policy by id.
func (c *Config) Policy(id string) (*Policy, bool) {
	for i := range c.Policies {
		if c.Policies[i].ID == id {
			return &c.Policies[i], true
		}
	}
	return nil, false
}

// Roster finds a roster by id.
func (c *Config) Roster(id string) (*Roster, bool) {
	for i := range c.Rosters {
		if c.Rosters[i].ID == id {
			return &c.Rosters[i], true
		}
	}
	return nil, false
}

// RosterFor finds the roster of a role at a site.
func (c *Config) RosterFor(site, role string) (*Roster, bool) {
	for i := range c.Rosters {
		if c.Rosters[i].Site == site && c.Rosters[i].Role == role {
			return &c.Rosters[i], true
		}
	}
	return nil, false
}

// HasCategory reports whether cat is one of the incident categories.
func (c *Config) HasCategory(cat string) bool { return slices.Contains(c.Categories, cat) }

// HasRole reports whether the person holds the role.
func (p *Person) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// HasAnyRole reports whether the person holds one of the roles.
func (p *Person) HasAnyRole(roles ...string) bool {
	for _, r := range roles {
		if p.HasRole(r) {
			return true
		}
	}
	return false
}

// Qualified reports whether the person holds qualification name valid
// through the end of the instant until (the expiry date is the last day
// it is valid, in loc).
func (p *Person) Qualified(name string, until time.Time, loc *time.Location) (ok bool, expired *Qualification) {
	for i := range p.Qualifications {
		q := &p.Qualifications[i]
		if q.Name != name {
			continue
		}
		end := q.Expires.In(loc).AddDate(0, 0, 1) // valid through the whole expiry day
		if until.After(end) {
			return false, q
		}
		return true, nil
	}
	return false, nil
}

// Coordinators lists every person with the coordinator role.
func (c *Config) Coordinators() []*Person {
	var out []*Person
	for i := range c.People {
		if c.People[i].HasRole(RoleCoordinator) {
			out = append(out, &c.People[i])
		}
	}
	return out
}

// Secrets are the credentials muster reads from the environment. A
// platform whose secrets are empty is off.
type Secrets struct {
	RedisURL           string
	SlackBotToken      string
	SlackSigningSecret string
	SlackAppToken      string
	DiscordBotToken    string
	DiscordAppID       string
	DiscordPublicKey   string
	TwilioAccountSID   string
	TwilioAuthToken    string
	// AuditKey is the audit chain's signing seed (hex), "" when unset.
	AuditKey string
}

// SecretFromEnv reads one secret through getenv (os.Getenv when nil):
// the variable name, or the content of the file name_FILE names (without
// its trailing newline), "" when neither is set or name is "". It is an
// error to set both, or to name a file that cannot be read; the error
// names the variable and the file, never a secret.
func SecretFromEnv(getenv func(string) string, name string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if name == "" {
		return "", nil
	}
	v, file := getenv(name), getenv(name+"_FILE")
	switch {
	case file == "":
		return v, nil
	case v != "":
		return v, fmt.Errorf("%s and %s_FILE are both set: set one", name, name)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

// SecretsFromEnv reads the variables the config names, through getenv
// (os.Getenv when nil). Each secret comes from its variable VAR or, for
// container and systemd secrets, from the file VAR_FILE names (its
// content, without the trailing newline). It is an error to set both, or
// to name a file that cannot be read; the error names the variable and
// the file, never a secret.
func (c *Config) SecretsFromEnv(getenv func(string) string) (Secrets, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	get := func(name string) string {
		v, err := SecretFromEnv(getenv, name)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	s := Secrets{
		RedisURL:           c.Redis.URL,
		SlackBotToken:      get(c.Slack.BotTokenEnv),
		SlackSigningSecret: get(c.Slack.SigningSecretEnv),
		SlackAppToken:      get(c.Slack.AppTokenEnv),
		DiscordBotToken:    get(c.Discord.BotTokenEnv),
		DiscordAppID:       get(c.Discord.AppIDEnv),
		DiscordPublicKey:   get(c.Discord.PublicKeyEnv),
		TwilioAccountSID:   c.Twilio.AccountSID,
		TwilioAuthToken:    get(c.Twilio.AuthTokenEnv),
		AuditKey:           get(c.Records.SigningKeyEnv),
	}
	if v := get(c.Redis.URLEnv); v != "" {
		s.RedisURL = v
	}
	if v := get(c.Twilio.AccountSIDEnv); v != "" && s.TwilioAccountSID == "" {
		s.TwilioAccountSID = v
	}
	return s, errors.Join(errs...)
}

// HelpCategory is the incident category of a person's call for help in a
// roll call (lone false) or a lone-worker session (lone true): the one the
// config names, else "injury", else "other", else the first category.
func (c *Config) HelpCategory(lone bool) string {
	want := c.RollCall.HelpCategory
	if lone {
		want = c.LoneWorker.HelpCategory
	}
	if want != "" {
		return want
	}
	for _, cat := range []string{"injury", "other"} {
		if slices.Contains(c.Categories, cat) {
			return cat
		}
	}
	if len(c.Categories) > 0 {
		return c.Categories[0]
	}
	return "other"
}

// HasPlanID reports whether a plan has this id.
func (c *Config) HasPlanID(id string) bool {
	_, ok := c.Plan(id)
	return ok
}
