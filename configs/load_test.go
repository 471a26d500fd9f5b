package configs

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// want is one problem a fixture must report: its exact line and field
// path ("" for problems found while decoding, which have no path), and a
// piece of its message.
type want struct {
	line int
	path string
	msg  string
}

// fixtures maps every file in testdata/ to the problems it must report,
// in order. Each fixture is a trimmed copy of example.yaml with one fault
// (several-*.yaml have several); its first line says which.
var fixtures = map[string][]want{
	"valid-trimmed.yaml": nil,

	// Found while decoding: strict YAML, wrong types, bad scalars.
	"unknown-key.yaml":        {{10, "", `unknown key "colour"`}},
	"wrong-type.yaml":         {{63, "", `text "three" where a number was expected`}},
	"wrong-type-list.yaml":    {{26, "", `a mapping where a list was expected`}},
	"duplicate-key.yaml":      {{25, "", `mapping key "phone" already defined at line 24`}},
	"bad-duration.yaml":       {{52, "", `"2 minutes" is not a duration`}},
	"duration-overflow.yaml":  {{89, "", `"200000d" is not a duration`}},
	"bad-date.yaml":           {{28, "", `"2027-02-29" is not a date (write YYYY-MM-DD)`}},
	"bad-clock.yaml":          {{47, "", `"7pm" is not a time of day (write HH:MM`}},
	"syntax-error.yaml":       {{74, "", `mapping values are not allowed in this context`}},
	"multiple-documents.yaml": {{90, "", `more than one YAML document; muster reads one`}},
	"several-decode-errors.yaml": {
		{10, "", `unknown key "colour"`},
		{29, "", `"2027-02-29" is not a date`},
		{53, "", `"2 minutes" is not a duration`},
		{64, "", `text "three" where a number was expected`},
	},

	// Found by Validate: every problem with its path.
	"empty.yaml": {
		{1, "organization", `is required`},
		{1, "sites", `at least one site is required`},
	},
	"missing-organization.yaml": {{2, "organization", `is required`}},
	"namespace-too-long.yaml": {{2, "namespace",
		`"northgate-security-and-facilities-management-services-limited" must be up to 40 lowercase letters`}},
	"bad-timezone.yaml":       {{4, "timezone", `unknown time zone "Europe/Londen"`}},
	"duplicate-category.yaml": {{6, "categories[2]", `duplicate category "intrusion"`}},
	"no-coordinator.yaml": {{14, "people",
		`nobody has the role "coordinator"; someone must receive unanswered tasks`}},
	"unknown-role-on-person.yaml": {{19, "people[0].roles[1]", `unknown role "firstaider"`}},
	"duplicate-phone.yaml": {{31, "people[2].phone",
		`same phone as "amara"; SMS replies could not tell them apart`}},
	"bad-phone.yaml":        {{35, "people[3].phone", `"0770 900" is not E.164`}},
	"duplicate-person.yaml": {{37, "people[4].id", `duplicate person id "hugo"`}},
	"bad-shift.yaml": {{42, "rosters[0].rotation.shift",
		`5h must divide a day (1h, 2h, 3h, 4h, 6h, 8h, 12h) or be whole days`}},
	"roster-unknown-person.yaml": {{42, "rosters[0].rotation.people[1]", `unknown person "zoe"`}},
	"roster-duplicate-site-role.yaml": {{44, "rosters[1]",
		`roster "harbour-guard" already covers role "guard" at site "harbour"`}},
	"unknown-site.yaml":             {{45, "rosters[1].site", `unknown site "harbor"`}},
	"bad-shift-partial-hours.yaml":  {{47, "rosters[1].rotation.shift", `1h30m must be whole hours`}},
	"roster-person-lacks-role.yaml": {{47, "rosters[1].rotation.people[0]", `"amara" does not have the role "control"`}},
	"drills-schedule.yaml": {{94, "drills.schedule[1].plan", `unknown plan "lockdown"`},
		{94, "drills.schedule[1].every", `36h must be whole days, at least 1d`},
		{95, "drills.schedule[2].start", `is required (YYYY-MM-DD, the first day a drill is due)`},
		{95, "drills.schedule[2]", `plan "fire-evacuation" at site "harbour" is already scheduled`}},
	"roster-bad-duty.yaml": {{44, "rosters[0].duty", `"onsite" must be on_site, remote or on_call`},
		{45, "rosters[0].max_continuous", `30m must be whole minutes, at least 1h`}},
	// Rotations laid side by side (no skips, no covers).
	"roster-two-places.yaml": {
		{49, "rosters[1].rotation.people", `amara would be in two places at once: harbour-guard on site harbour and depot-guard on site depot, from 2026-01-05 07:00`},
		{49, "rosters[1].rotation.people", `farid would be in two places at once: harbour-guard on site harbour and depot-guard on site depot, from 2026-01-05 19:00`}},
	"roster-past-max-continuous.yaml": {
		{42, "rosters[0].rotation.people", `puts amara on duty for 24h without a break from 2026-01-05 07:00 (harbour-guard), past max_continuous 16h`},
		{42, "rosters[0].rotation.people", `puts farid on duty for 24h without a break from 2026-01-06 07:00 (harbour-guard), past max_continuous 16h`}},
	"policy-unknown-channel.yaml": {{52, "policies[0].steps[0].notify[1]",
		`unknown channel "pager" (chat, sms or voice)`}},
	"policy-unknown-role.yaml":          {{53, "policies[0].steps[1].escalate_to.role", `unknown role "manager"`}},
	"policy-escalate-to-both.yaml":      {{53, "policies[0].steps[1].escalate_to", `give exactly one of role or person`}},
	"policy-no-wait.yaml":               {{56, "policies[1].steps[0].wait", `is required`}},
	"policy-unknown-person.yaml":        {{57, "policies[1].steps[1].escalate_to.person", `unknown person "jonas"`}},
	"unknown-role-in-triggered-by.yaml": {{64, "plans[0].triggered_by[1]", `unknown role "controller"`}},
	"unknown-policy.yaml":               {{69, "plans[0].tasks[1].policy", `unknown policy "urgent"`}},
	"unknown-role-in-plan.yaml":         {{76, "plans[1].tasks[0].role", `unknown role "medic"`}},
	"bad-public-url.yaml":               {{79, "server.public_url", `"muster.example.com" is not an http(s) URL`}},
	"secret-in-file.yaml": {{82, "slack.bot_token_env",
		`is not an environment variable name (A-Z, 0-9 and _); secrets are never written in the file`}},
	"bad-twilio-rate.yaml":    {{86, "twilio.rate", `NaN must be between 0 and 10000`}},
	"negative-retention.yaml": {{89, "records.retention", `must not be negative`}},

	// All at once, in line order: the coordinator problem is found after
	// every person has been read, but its line (people:) comes first.
	"obligations-broken.yaml": {
		{92, "contacts[0].phone", `"999" is not E.164`},
		{93, "contacts[1].name", `is required`},
		{93, "contacts[1].kind", `"The Client" must be one lowercase word`},
		{96, "obligations[0].notify", `unknown contact "polis"`},
		{97, "obligations[0].when.categories[0]", `unknown category "burglary"`},
		{97, "obligations[0].when.min_severity", `"sev5" must be sev1, sev2, sev3 or sev4`},
		{97, "obligations[0].when.sites[0]", `unknown site "harbor"`},
		{98, "obligations[0].within", `30s is too short`},
		{99, "obligations[0].owner", `unknown role "manager"`},
		{103, "board.displays[0].sites[0]", `unknown site "nowhere"`},
		{103, "board.displays[0].token_env", `is not an environment variable name`},
		{104, "board.displays[1].token_env", `is required`},
	},
	"several-errors.yaml": {
		{4, "timezone", `unknown time zone "Europe/Londen"`},
		{14, "people", `nobody has the role "coordinator"`},
		{35, "people[3].phone", `"0770 900" is not E.164`},
		{45, "rosters[1].site", `unknown site "harbor"`},
		{53, "policies[0].steps[1].escalate_to.role", `unknown role "manager"`},
		{76, "plans[1].tasks[0].role", `unknown role "medic"`},
		{85, "twilio.from", `"07700 900999" is not E.164`},
	},
}

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := fixtures[filepath.Base(f)]; !ok {
			t.Errorf("%s has no expectations in the fixtures table", f)
		}
	}
	for name, wants := range fixtures {
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			t.Parallel()
			file := filepath.Join("testdata", name)
			cfg, err := Load(file)
			if len(wants) == 0 {
				if err != nil {
					t.Fatalf("want no problems, got:\n%v", err)
				}
				if cfg == nil {
					t.Fatal("no error and no config")
				}
				return
			}
			if cfg != nil {
				t.Errorf("got a config along with the error")
			}
			var probs Errors
			if !errors.As(err, &probs) {
				t.Fatalf("got %T %v, want configs.Errors", err, err)
			}
			if len(probs) != len(wants) {
				t.Fatalf("got %d problems, want %d:\n%v", len(probs), len(wants), err)
			}
			for i, w := range wants {
				p := probs[i]
				if p.Source != file || p.Line != w.line || p.Path != w.path || !strings.Contains(p.Msg, w.msg) {
					t.Errorf("problem %d:\n got %s:%d: path %q: %s\nwant %s:%d: path %q: ...%s...",
						i, p.Source, p.Line, p.Path, p.Msg, file, w.line, w.path, w.msg)
				}
				// The shape people read: file:line: path: message.
				prefix := fmt.Sprintf("%s:%d: ", file, w.line)
				if w.path != "" {
					prefix += w.path + ": "
				}
				if s := p.String(); !strings.HasPrefix(s, prefix) || !strings.Contains(s, w.msg) {
					t.Errorf("problem %d prints as %q, want %q...%s", i, s, prefix, w.msg)
				}
			}
			if !strings.Contains(err.Error(), probs[len(probs)-1].String()) {
				t.Errorf("Error() leaves out a problem:\n%v", err)
			}
		})
	}
}

// Every problem of a config read from a file must say which line; a
// problem without one is a bug in indexLines or addf.
func TestFixtureProblemsHaveLinesInOrder(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		_, err := Load(f)
		var probs Errors
		if !errors.As(err, &probs) {
			continue
		}
		for i, p := range probs {
			if p.Line <= 0 {
				t.Errorf("%s: problem without a line: %s", f, p)
			}
			if i > 0 && p.Line < probs[i-1].Line {
				t.Errorf("%s: problems out of line order:\n%v", f, err)
			}
		}
	}
}

func TestSecretIsNotEchoed(t *testing.T) {
	_, err := Load("testdata/secret-in-file.yaml")
	if err == nil {
		t.Fatal("a token where an env var name belongs was accepted")
	}
	if strings.Contains(err.Error(), "xoxb") || strings.Contains(err.Error(), "AbCdEf") {
		t.Errorf("the error repeats the secret:\n%v", err)
	}
}

func TestExample(t *testing.T) {
	onDisk, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(onDisk) != string(ExampleYAML()) {
		t.Fatal("ExampleYAML() differs from example.yaml")
	}
	if _, err := Load("example.yaml"); err != nil {
		t.Fatalf("example.yaml does not load:\n%v", err)
	}
	cfg, err := Example()
	if err != nil {
		t.Fatalf("the embedded example does not load:\n%v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() on the loaded example: %v", err)
	}
	if cfg.Source != ExampleSource {
		t.Errorf("Source = %q, want %q", cfg.Source, ExampleSource)
	}
	if len(cfg.Sites) != 2 {
		t.Errorf("%d sites, want 2", len(cfg.Sites))
	}
	if len(cfg.People) < 8 {
		t.Errorf("%d people, want at least 8", len(cfg.People))
	}
	for _, role := range BuiltinRoles {
		if !slices.ContainsFunc(cfg.People, func(p Person) bool { return p.HasRole(role) }) {
			t.Errorf("nobody holds the built-in role %q", role)
		}
	}
	if len(cfg.Policies) < 2 {
		t.Errorf("%d policies, want at least 2", len(cfg.Policies))
	}
	for _, id := range []string{"fire-evacuation", "intruder-lockdown", "medical-emergency"} {
		pl, ok := cfg.Plan(id)
		if !ok {
			t.Errorf("no plan %q", id)
			continue
		}
		for _, task := range pl.Tasks {
			if _, ok := cfg.Policy(task.Policy); !ok {
				t.Errorf("plan %q: task %q has no policy %q", id, task.Title, task.Policy)
			}
		}
	}
	if len(cfg.Coordinators()) == 0 {
		t.Error("no coordinators")
	}
	if loc := cfg.Location(); loc.String() != "Europe/London" {
		t.Errorf("Location() = %v, want Europe/London", loc)
	}
}

// minimal is the least a config needs; the defaults do the rest.
const minimal = `organization: Northgate Security
sites:
  - {id: harbour, name: Harbour Point HQ}
people:
  - {id: jonah, name: Jonah Reid, roles: [coordinator]}
`

func TestDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimal), "minimal.yaml")
	if err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	if !slices.Equal(cfg.Categories, DefaultCategories) || len(cfg.Categories) != 10 {
		t.Errorf("categories = %v, want the 10 defaults %v", cfg.Categories, DefaultCategories)
	}
	cfg.Categories[0] = "changed"
	if DefaultCategories[0] == "changed" {
		t.Error("the config's categories share memory with DefaultCategories")
	}
	if got := 7 * 365 * 24 * time.Hour; cfg.Records.Retention.D() != got || DefaultRetention != got {
		t.Errorf("retention = %v, want 7 years (%v)", cfg.Records.Retention.D(), got)
	}
	if got := cfg.Records.Retention.String(); got != "2555d" {
		t.Errorf("retention prints as %q, want 2555d", got)
	}
	for _, c := range []struct{ name, got, want string }{
		{"namespace", cfg.Namespace, "northgate-security"},
		{"timezone", cfg.Timezone, "UTC"},
		{"server.listen", cfg.Server.Listen, "127.0.0.1:8080"},
		{"server.journal", cfg.Server.Journal, "muster-journal.jsonl"},
		{"redis.url_env", cfg.Redis.URLEnv, "MUSTER_REDIS_URL"},
		{"slack.bot_token_env", cfg.Slack.BotTokenEnv, "SLACK_BOT_TOKEN"},
		{"slack.signing_secret_env", cfg.Slack.SigningSecretEnv, "SLACK_SIGNING_SECRET"},
		{"slack.app_token_env", cfg.Slack.AppTokenEnv, "SLACK_APP_TOKEN"},
		{"discord.bot_token_env", cfg.Discord.BotTokenEnv, "DISCORD_BOT_TOKEN"},
		{"discord.app_id_env", cfg.Discord.AppIDEnv, "DISCORD_APP_ID"},
		{"discord.public_key_env", cfg.Discord.PublicKeyEnv, "DISCORD_PUBLIC_KEY"},
		{"twilio.account_sid_env", cfg.Twilio.AccountSIDEnv, "TWILIO_ACCOUNT_SID"},
		{"twilio.auth_token_env", cfg.Twilio.AuthTokenEnv, "TWILIO_AUTH_TOKEN"},
		{"twilio.rate", fmt.Sprint(cfg.Twilio.Rate), "1"},
		{"engine.lease", cfg.Engine.Lease.String(), "30s"},
		{"records.signing_key_env", cfg.Records.SigningKeyEnv, "MUSTER_AUDIT_KEY"},
		{"records.seal_log", cfg.Records.SealLog, ""},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if cfg.Location() != time.UTC {
		t.Errorf("Location() = %v, want UTC", cfg.Location())
	}
}

func TestNamespaceSlug(t *testing.T) {
	for org, want := range map[string]string{
		"Northgate Security":          "northgate-security",
		"  St. Mary's Hospital (NHS)": "st-mary-s-hospital-nhs",
		"Ørsted A/S":                  "rsted-a-s",
		"!!!":                         "default",
	} {
		if got := slug(org); got != want {
			t.Errorf("slug(%q) = %q, want %q", org, got, want)
		}
	}
}

func TestCategoriesReplaceDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimal+"categories: [intrusion, fire, trespass]\n"), "cats.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"intrusion", "fire", "trespass"}; !slices.Equal(cfg.Categories, want) {
		t.Errorf("categories = %v, want %v", cfg.Categories, want)
	}
	if !cfg.HasCategory("trespass") || cfg.HasCategory("medical") {
		t.Errorf("HasCategory: trespass %v (want true), medical %v (want false)",
			cfg.HasCategory("trespass"), cfg.HasCategory("medical"))
	}
}

// env is a map-backed getenv that remembers every name it was asked for.
type env struct {
	vars  map[string]string
	asked []string
}

func (e *env) getenv(name string) string {
	e.asked = append(e.asked, name)
	return e.vars[name]
}

func TestSecretsFromEnv(t *testing.T) {
	const custom = minimal + `redis: {url: "redis://from-file:6379/0", url_env: NG_REDIS_URL}
slack: {bot_token_env: NG_SLACK_BOT, signing_secret_env: NG_SLACK_SIGNING, app_token_env: NG_SLACK_APP}
discord: {bot_token_env: NG_DISCORD_BOT, app_id_env: NG_DISCORD_APP, public_key_env: NG_DISCORD_KEY}
twilio: {account_sid_env: NG_TWILIO_SID, auth_token_env: NG_TWILIO_TOKEN}
records: {signing_key_env: NG_AUDIT_KEY}
`
	cfg, err := Parse([]byte(custom), "custom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	named := []string{"NG_REDIS_URL", "NG_SLACK_BOT", "NG_SLACK_SIGNING", "NG_SLACK_APP",
		"NG_DISCORD_BOT", "NG_DISCORD_APP", "NG_DISCORD_KEY", "NG_TWILIO_SID", "NG_TWILIO_TOKEN", "NG_AUDIT_KEY"}
	vars := map[string]string{
		// Decoys under the default names: the config renamed them all.
		"MUSTER_REDIS_URL": "redis://decoy:6379", "SLACK_BOT_TOKEN": "decoy", "TWILIO_AUTH_TOKEN": "decoy", "MUSTER_AUDIT_KEY": "decoy",
	}
	for _, n := range named {
		vars[n] = "value of " + n
	}
	vars["NG_REDIS_URL"] = "redis://from-env:6379/1"

	e := &env{vars: vars}
	got, err := cfg.SecretsFromEnv(e.getenv)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range e.asked {
		if n = strings.TrimSuffix(n, "_FILE"); !slices.Contains(named, n) {
			t.Errorf("read %s, which the config does not name", n)
		}
	}
	want := Secrets{
		RedisURL:           "redis://from-env:6379/1", // the environment overrides redis.url
		SlackBotToken:      "value of NG_SLACK_BOT",
		SlackSigningSecret: "value of NG_SLACK_SIGNING",
		SlackAppToken:      "value of NG_SLACK_APP",
		DiscordBotToken:    "value of NG_DISCORD_BOT",
		DiscordAppID:       "value of NG_DISCORD_APP",
		DiscordPublicKey:   "value of NG_DISCORD_KEY",
		TwilioAccountSID:   "value of NG_TWILIO_SID",
		TwilioAuthToken:    "value of NG_TWILIO_TOKEN",
		AuditKey:           "value of NG_AUDIT_KEY",
	}
	if got != want {
		t.Errorf("secrets:\n got %+v\nwant %+v", got, want)
	}

	// Without the variable, redis.url from the file stands; an unset
	// platform is simply empty (off).
	e = &env{vars: map[string]string{"NG_SLACK_BOT": "xoxb-1"}}
	got, _ = cfg.SecretsFromEnv(e.getenv)
	if got.RedisURL != "redis://from-file:6379/0" || got.SlackBotToken != "xoxb-1" || got.DiscordBotToken != "" {
		t.Errorf("with only NG_SLACK_BOT set: %+v", got)
	}
}

// A secret may come from the file <VAR>_FILE names (container and
// systemd secrets), its trailing newline removed; setting both forms, or
// naming a file that cannot be read, is an error that names the variable
// and never shows a secret.
func TestSecretsFromFiles(t *testing.T) {
	cfg, err := Parse([]byte(minimal), "minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	token := filepath.Join(dir, "slack-token")
	if err := os.WriteFile(token, []byte("xoxb-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	redisURL := filepath.Join(dir, "redis-url")
	if err := os.WriteFile(redisURL, []byte("redis://:pw@10.0.0.5:6379/0\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{vars: map[string]string{"SLACK_BOT_TOKEN_FILE": token, "MUSTER_REDIS_URL_FILE": redisURL, "TWILIO_AUTH_TOKEN": "from-env"}}
	got, err := cfg.SecretsFromEnv(e.getenv)
	if err != nil {
		t.Fatal(err)
	}
	if got.SlackBotToken != "xoxb-from-file" || got.RedisURL != "redis://:pw@10.0.0.5:6379/0" || got.TwilioAuthToken != "from-env" {
		t.Errorf("secrets %+v", got)
	}

	e = &env{vars: map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-secret-value", "SLACK_BOT_TOKEN_FILE": token,
		"DISCORD_BOT_TOKEN_FILE": filepath.Join(dir, "missing"),
	}}
	_, err = cfg.SecretsFromEnv(e.getenv)
	if err == nil {
		t.Fatal("both forms and a missing file: no error")
	}
	for _, want := range []string{"SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE are both set", "DISCORD_BOT_TOKEN_FILE: open "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "xoxb-") {
		t.Errorf("error %q shows a secret", err)
	}
}

func TestSecretsFromEnvDefaultsToOSEnv(t *testing.T) {
	cfg, err := Parse([]byte(minimal), "minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-from-os")
	if got, _ := cfg.SecretsFromEnv(nil); got.SlackBotToken != "xoxb-from-os" {
		t.Errorf("SlackBotToken = %q, want the value of $SLACK_BOT_TOKEN", got)
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"90s": 90 * time.Second, "5m": 5 * time.Minute, "12h": 12 * time.Hour, "1h30m": 90 * time.Minute,
		"7d": 7 * 24 * time.Hour, "2555d": 2555 * 24 * time.Hour, " 2d ": 48 * time.Hour, "0": 0, "-3m": -3 * time.Minute,
	}
	for s, want := range good {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	maxDays := math.MaxInt64 / int64(24*time.Hour)
	for _, s := range []string{"", "d", "7", "1.5d", "+7d", "7 d", "07d", "2 minutes", "1w", "5 m",
		fmt.Sprintf("%dd", maxDays+1), fmt.Sprintf("-%dd", maxDays+1), "99999999999999999999d", "9999999999h"} {
		if got, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", s, got)
		}
	}
	if _, err := ParseDuration(fmt.Sprintf("%dd", maxDays)); err != nil {
		t.Errorf("the longest whole-day duration is refused: %v", err)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 90 * time.Second: "1m30s", 5 * time.Minute: "5m", 10 * time.Minute: "10m",
		12 * time.Hour: "12h", 10 * time.Hour: "10h", 90 * time.Minute: "1h30m", 24 * time.Hour: "24h",
		48 * time.Hour: "2d", 2555 * 24 * time.Hour: "2555d", 30 * time.Second: "30s",
		1500 * time.Millisecond: "1.5s", time.Hour + 10*time.Second: "1h0m10s", -10 * time.Minute: "-10m",
	} {
		got := FormatDuration(d)
		if got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseDuration(got); err != nil || back != d {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", d, back, err)
		}
	}
}

// scalars holds one of each config scalar type, for decoding on its own.
type scalars struct {
	Wait     Duration `yaml:"wait"`
	Expires  Date     `yaml:"expires"`
	Handover Clock    `yaml:"handover"`
}

func TestScalarsDecode(t *testing.T) {
	var s scalars
	if err := yaml.Unmarshal([]byte("wait: 7d\nexpires: 2028-02-29\nhandover: \"07:30\"\n"), &s); err != nil {
		t.Fatal(err)
	}
	if s.Wait.D() != 7*24*time.Hour || s.Expires != (Date{2028, 2, 29}) || s.Handover != (Clock{7, 30}) {
		t.Errorf("decoded %+v", s)
	}
	if s.Handover.Offset() != 7*time.Hour+30*time.Minute || s.Handover.String() != "07:30" || s.Expires.String() != "2028-02-29" {
		t.Errorf("Offset %v, Clock %v, Date %v", s.Handover.Offset(), s.Handover, s.Expires)
	}
	out, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back scalars
	if err := yaml.Unmarshal(out, &back); err != nil || back != s {
		t.Errorf("round trip through\n%s gave %+v, %v", out, back, err)
	}
}

func TestScalarsRejectBadValuesWithLine(t *testing.T) {
	bad := map[string][]string{
		"wait":     {"2 minutes", "90", "1.5d", "soon", "[1m]", "{m: 1}"},
		"expires":  {"2027-02-29", "2027-13-01", "31/12/2027", "2027-12-31T00:00:00Z", "tomorrow", "[2027-12-31]"},
		"handover": {"24:00", "07:60", "7pm", "0700", `"07:00:00"`, "[07:00]"},
	}
	for key, values := range bad {
		for _, v := range values {
			// Two lines first, so the value sits on line 3.
			doc := fmt.Sprintf("# a comment\n\n%s: %s\n", key, v)
			var s scalars
			err := yaml.Unmarshal([]byte(doc), &s)
			var te *yaml.TypeError
			if !errors.As(err, &te) || len(te.Errors) != 1 || !strings.HasPrefix(te.Errors[0], "line 3: ") {
				t.Errorf("%s: %s: got %v, want one error on line 3", key, v, err)
			}
		}
	}
	// Through Parse, each bad scalar is one problem with its line, all at once.
	doc := minimal + "policies:\n  - id: p\n    steps: [{notify: [chat], wait: soon}]\n" +
		"rosters:\n  - {id: r, site: harbour, role: coordinator, rotation: {shift: 7d, handover: 9am, start: 2026-02-30, people: [jonah]}}\n"
	_, err := Parse([]byte(doc), "scalars.yaml")
	var probs Errors
	if !errors.As(err, &probs) || len(probs) != 3 {
		t.Fatalf("got %v, want three problems", err)
	}
	for i, w := range []want{{8, "", `"soon" is not a duration`}, {10, "", `"9am" is not a time of day`}, {10, "", `"2026-02-30" is not a date`}} {
		if p := probs[i]; p.Line != w.line || p.Path != w.path || !strings.Contains(p.Msg, w.msg) {
			t.Errorf("problem %d = %s, want line %d ...%s...", i, p, w.line, w.msg)
		}
	}
}

func TestMultipleDocumentsRefused(t *testing.T) {
	one := string(ExampleYAML())
	lines := strings.Count(one, "\n")
	for name, c := range map[string]struct {
		doc  string
		line int
		msg  string
	}{
		"second document":     {one + "---\norganization: Southgate\n", lines + 1, "more than one YAML document"},
		"empty second":        {one + "---\n", lines + 1, "more than one YAML document"},
		"broken second":       {one + "---\norganization: [\n", lines + 2, "did not find expected node content"},
		"second before first": {"---\n" + one + "---\n" + one, lines + 2, "more than one YAML document"},
	} {
		_, err := Parse([]byte(c.doc), "two.yaml")
		var probs Errors
		if !errors.As(err, &probs) || len(probs) != 1 {
			t.Errorf("%s: got %v, want one problem", name, err)
			continue
		}
		if p := probs[0]; p.Line != c.line || !strings.Contains(p.Msg, c.msg) {
			t.Errorf("%s: got %s, want line %d: ...%s...", name, p, c.line, c.msg)
		}
	}
	// Explicit start and end markers around one document are fine.
	if _, err := Parse([]byte("---\n"+one+"...\n"), "one.yaml"); err != nil {
		t.Errorf("one document between --- and ...: %v", err)
	}
}

func TestValidateAfterChangeInCode(t *testing.T) {
	cfg, err := Example()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Plans[1].Tasks[0].Role = "medic"
	cfg.People[3].Phone = "0770 900"
	err = cfg.Validate()
	var probs Errors
	if !errors.As(err, &probs) || len(probs) != 2 {
		t.Fatalf("got %v, want two problems", err)
	}
	// No file, so no lines: the shape is source: path: message.
	for i, want := range []string{
		ExampleSource + `: people[3].phone: "0770 900" is not E.164`,
		ExampleSource + `: plans[1].tasks[0].role: unknown role "medic"`,
	} {
		if got := probs[i].String(); !strings.HasPrefix(got, want) {
			t.Errorf("problem %d = %q, want %q...", i, got, want)
		}
	}
}

func TestProblemString(t *testing.T) {
	for _, c := range []struct {
		p    Problem
		want string
	}{
		{Problem{"a.yaml", 12, "people[3].phone", "bad"}, "a.yaml:12: people[3].phone: bad"},
		{Problem{"a.yaml", 12, "", "unknown key"}, "a.yaml:12: unknown key"},
		{Problem{"a.yaml", 0, "sites", "required"}, "a.yaml: sites: required"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	errs := Errors{{"a.yaml", 1, "x", "one"}, {"a.yaml", 2, "y", "two"}}
	if got, want := errs.Error(), "a.yaml:1: x: one\na.yaml:2: y: two"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want an error wrapping os.ErrNotExist", err)
	}
}
