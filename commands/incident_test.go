package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// incident reads INC-num from the store.
func (f *fixture) incident(t *testing.T, num int64) *store.Incident {
	t.Helper()
	inc, err := f.st.Incident(context.Background(), num)
	if err != nil {
		t.Fatalf("read INC-%d: %v", num, err)
	}
	return inc
}

// TestRaise: a raise records the incident, answers publicly with its id
// and fans out exactly one chat message to the site.
func TestRaise(t *testing.T) {
	f := newFixture(t, saturday0800)
	r := f.mustOK(t, "amara", "/incident raise intrusion sev2 @harbour Fence cut near gate B")

	want := "INC-1 raised: sev2 intrusion at Harbour Point HQ by Amara Okafor: Fence cut near gate B"
	if r.Text != want || !r.Public || r.Ref != "INC-1" {
		t.Errorf("reply = %+v, want public %q with Ref INC-1", r, want)
	}
	inc := f.incident(t, 1)
	if inc.Site != "harbour" || inc.Category != "intrusion" || inc.Severity != "sev2" || inc.Reporter != "amara" ||
		inc.Text != "Fence cut near gate B" || inc.Status != store.StatusOpen || !inc.Created.Equal(saturday0800) {
		t.Errorf("stored incident = %+v", inc)
	}

	sent := f.out.sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d messages, want 1: %+v", len(sent), sent)
	}
	m := sent[0]
	if m.Channel != notify.Chat || m.Site != "harbour" || m.To != "" || m.Ref != "INC-1" || m.Kind != "incident" || m.Drill {
		t.Errorf("fan-out = %+v, want one chat post to #harbour about INC-1", m)
	}
	if !strings.Contains(m.Text, "INC-1") || !strings.Contains(m.Text, "Fence cut near gate B") {
		t.Errorf("fan-out text %q: want the id and the text", m.Text)
	}

	// Ids count up per namespace; the default severity is sev3; the site
	// may also follow the severity, or come before the category.
	r = f.mustOK(t, "ben", "/incident raise fire Smoke from bin store")
	if r.Ref != "INC-2" || f.incident(t, 2).Severity != store.DefaultSeverity {
		t.Errorf("second raise: %+v, severity %q", r, f.incident(t, 2).Severity)
	}
	f.mustOK(t, "ben", "/incident raise @depot MEDICAL SEV1 Driver collapsed")
	if inc := f.incident(t, 3); inc.Site != "depot" || inc.Category != "medical" || inc.Severity != "sev1" || inc.Text != "Driver collapsed" {
		t.Errorf("INC-3 = %+v", inc)
	}
	if n := len(f.out.sent()); n != 3 {
		t.Errorf("after three raises, %d messages sent, want 3", n)
	}
}

// TestRaiseTextVerbatim: what the reporter wrote is what is recorded,
// quoted text and unicode included.
func TestRaiseTextVerbatim(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		site, want string
	}{
		{"straight quotes", `/incident raise theft @harbour "laptop taken   from desk 3, don't know who"`, "harbour", "laptop taken   from desk 3, don't know who"},
		{"curly quotes", "/incident raise theft @harbour “guard on scene — CCTV 4”", "harbour", "guard on scene — CCTV 4"},
		{"apostrophes", "/incident raise other @harbour O'Brien's van is back", "harbour", "O'Brien's van is back"},
		{"unicode", "/incident raise other @depot Ωμέγα 火事 near the café 🚒", "depot", "Ωμέγα 火事 near the café 🚒"},
		{"quoted severity word", `/incident raise hazard @harbour "sev1 spill" in bay 2`, "harbour", `"sev1 spill" in bay 2`},
		{"quotes inside the text", `/incident raise theft @harbour he shouted "stop" and ran`, "harbour", `he shouted "stop" and ran`},
		{"a site named at the end of the text", "/incident raise theft van seen heading to @depot", "harbour", "van seen heading to @depot"},
		{"a mention in the text", "/incident raise theft van seen, told @ben", "harbour", "van seen, told @ben"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, saturday0800)
			r := f.mustOK(t, "amara", tc.text)
			inc := f.incident(t, 1)
			if inc.Text != tc.want || inc.Site != tc.site {
				t.Errorf("stored text %q at %s, want %q at %s", inc.Text, inc.Site, tc.want, tc.site)
			}
			if !strings.HasSuffix(r.Text, ": "+tc.want) {
				t.Errorf("reply %q: want it to end with the text %q", r.Text, tc.want)
			}
			if sent := f.out.sent(); len(sent) != 1 || !strings.HasSuffix(sent[0].Text, tc.want) {
				t.Errorf("fan-out %+v: want one message ending with %q", sent, tc.want)
			}
		})
	}
}

// TestRaiseSeverityAndSiteInAnyOrder: after the category, the severity
// and the @site may come in either order; a severity that is not sev1 to
// sev4 is named as the mistake, never taken for text or for a missing
// site.
func TestRaiseSeverityAndSiteInAnyOrder(t *testing.T) {
	for _, tc := range []struct{ line, site, sev, text string }{
		{"/incident raise fire sev1 @harbour smoke in bay 2", "harbour", "sev1", "smoke in bay 2"},
		{"/incident raise fire @harbour sev1 smoke in bay 2", "harbour", "sev1", "smoke in bay 2"},
		{"/incident raise @depot fire SEV2 smoke in bay 2", "depot", "sev2", "smoke in bay 2"},
		{"/incident raise fire @depot smoke in bay 2", "depot", "sev3", "smoke in bay 2"},
		{"/incident raise fire sev4 smoke, told @depot", "harbour", "sev4", "smoke, told @depot"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			f := newFixture(t, saturday0800)
			f.mustOK(t, "amara", tc.line)
			inc := f.incident(t, 1)
			if inc.Site != tc.site || inc.Severity != tc.sev || inc.Text != tc.text {
				t.Errorf("recorded %s %s %q, want %s %s %q", inc.Site, inc.Severity, inc.Text, tc.site, tc.sev, tc.text)
			}
		})
	}
	for _, line := range []string{"/incident raise fire sev5 @harbour smoke", "/incident raise fire @harbour sev0 smoke", "/incident raise fire sev12 smoke"} {
		t.Run(line, func(t *testing.T) {
			f := newFixture(t, saturday0800)
			r := f.as(t, "amara", line)
			if !r.Error || !strings.HasPrefix(r.Text, "Severity is sev1 to sev4") || strings.Count(r.Text, "\n") != 0 {
				t.Errorf("answer %+v, want one line saying severity is sev1 to sev4", r)
			}
			if n := len(f.out.sent()); n != 0 {
				t.Errorf("%d messages sent for a refused raise", n)
			}
		})
	}
}

// TestInputLimitCountsCharacters: the limit is 2000 characters, not bytes.
func TestInputLimitCountsCharacters(t *testing.T) {
	f := newFixture(t, saturday0800)
	prefix := "/incident raise other @harbour "
	text := strings.Repeat("火", commands.MaxInput-len(prefix)) // 3 bytes each
	f.mustOK(t, "amara", prefix+text)
	if got := f.incident(t, 1).Text; got != text {
		t.Errorf("stored %d characters, want the %d sent", len([]rune(got)), len([]rune(text)))
	}
	checkUsage(t, f.as(t, "amara", prefix+text+"!"), "2001 characters", "at most 2000")
}

// TestRaiseSiteDefault: with no @site, the site is the one whose channel
// the command was typed in, else the one the sender is rostered at.
func TestRaiseSiteDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  commands.Request
		site string
	}{
		// Amara is rostered only at harbour: the channel must win.
		{"slack channel of depot", commands.Request{Platform: commands.PlatformSlack, UserID: "U0AMARA", Channel: "C0DEPOT"}, "depot"},
		{"slack channel of harbour", commands.Request{Platform: commands.PlatformSlack, UserID: "U0DEV", Channel: "C0HARBOUR"}, "harbour"},
		{"discord channel of depot", commands.Request{Platform: commands.PlatformDiscord, UserID: "1100000000000000101", Channel: "1200000000000000002"}, "depot"},
		{"direct message, rostered at harbour", commands.Request{Platform: commands.PlatformSlack, UserID: "U0AMARA", Channel: "D0DIRECT"}, "harbour"},
		{"console, rostered at depot", commands.Request{Platform: commands.PlatformConsole, UserID: "dev"}, "depot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, saturday0800)
			tc.req.Text = "/incident raise suspicious-activity Man photographing the gate"
			r := f.svc.Handle(context.Background(), tc.req)
			if r.Error {
				t.Fatalf("raise refused: %q", r.Text)
			}
			if inc := f.incident(t, 1); inc.Site != tc.site {
				t.Errorf("site = %q, want %q", inc.Site, tc.site)
			}
			if sent := f.out.sent(); len(sent) != 1 || sent[0].Site != tc.site {
				t.Errorf("fan-out %+v: want one post to #%s", sent, tc.site)
			}
		})
	}

	t.Run("explicit site beats the channel", func(t *testing.T) {
		f := newFixture(t, saturday0800)
		r := f.svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformSlack, UserID: "U0AMARA", Channel: "C0DEPOT",
			Text: "/incident raise intrusion @harbour Fence cut"})
		if r.Error || f.incident(t, 1).Site != "harbour" {
			t.Errorf("reply %q: want the incident at harbour", r.Text)
		}
	})

	t.Run("no default: ask which site", func(t *testing.T) {
		// Farid supervises both sites, and the console has no channel.
		f := newFixture(t, saturday0800)
		r := f.as(t, "farid", "/incident raise intrusion sev2 Fence cut")
		checkUsage(t, r, "Which site?", "@harbour", "@depot", "/incident raise intrusion sev2 @harbour")
		if len(f.out.sent()) != 0 {
			t.Errorf("a refused raise sent %+v", f.out.sent())
		}
	})
}

// TestResolve: only a supervisor, control or a coordinator may resolve;
// a guard is told which roles may and what to do instead; the record
// then shows who resolved it and when; resolving twice is refused.
func TestResolve(t *testing.T) {
	f := newFixture(t, saturday0800)
	f.mustOK(t, "amara", "/incident raise intrusion sev2 @harbour Fence cut near gate B")
	raised := len(f.out.sent())

	r := f.as(t, "amara", "/incident resolve INC-1 done")
	checkUsage(t, r, "supervisor", "control", "coordinator", "you are guard, first-aider", "/incident update INC-1")
	if inc := f.incident(t, 1); inc.Status != store.StatusOpen || inc.ResolvedBy != "" {
		t.Errorf("after a guard's resolve, INC-1 = %+v, want still open", inc)
	}
	if sent := f.out.sent()[raised:]; len(sent) != 0 {
		t.Errorf("a refused resolve sent %+v", sent)
	}

	f.set(saturday0800.Add(25 * time.Minute))
	r = f.mustOK(t, "farid", `/incident resolve inc-1 "Fence repaired; police ref 4471/26"`)
	if r.Text != "INC-1 resolved by Farid Haddad at 08:25: Fence repaired; police ref 4471/26" || !r.Public || r.Ref != "INC-1" {
		t.Errorf("resolve reply = %+v", r)
	}
	inc := f.incident(t, 1)
	if inc.Status != store.StatusResolved || inc.ResolvedBy != "farid" || !inc.ResolvedAt.Equal(saturday0800.Add(25*time.Minute)) ||
		inc.Summary != "Fence repaired; police ref 4471/26" {
		t.Errorf("stored = %+v", inc)
	}
	if sent := f.out.sent()[raised:]; len(sent) != 1 || sent[0].Site != "harbour" || sent[0].Ref != "INC-1" || sent[0].Kind != "update" {
		t.Errorf("resolve fan-out = %+v, want one update to #harbour", sent)
	}

	show := f.mustOK(t, "amara", "/incident show INC-1")
	for _, want := range []string{
		"INC-1 sev2 intrusion at Harbour Point HQ, resolved\n",
		"Raised 08:00 by Amara Okafor: Fence cut near gate B\n",
		"Resolved 08:25 by Farid Haddad: Fence repaired; police ref 4471/26",
		"08:25 Farid Haddad resolve: Fence repaired",
	} {
		if !strings.Contains(show.Text, want) {
			t.Errorf("show = %q\nwant it to contain %q", show.Text, want)
		}
	}

	// Twice: refused, and the first resolution stands.
	r = f.as(t, "grace", "/incident resolve INC-1 again")
	checkUsage(t, r, "INC-1 is already resolved")
	if inc := f.incident(t, 1); inc.ResolvedBy != "farid" || inc.Summary != "Fence repaired; police ref 4471/26" {
		t.Errorf("a second resolve changed the record: %+v", inc)
	}
	// A resolved incident takes no more updates either.
	checkUsage(t, f.as(t, "amara", "/incident update INC-1 more"), "INC-1 is already resolved")
}

// TestResolveRoles: control and coordinators may resolve too.
func TestResolveRoles(t *testing.T) {
	for _, who := range []string{"farid", "hugo", "jonah"} {
		t.Run(who, func(t *testing.T) {
			f := newFixture(t, saturday0800)
			f.mustOK(t, "ben", "/incident raise theft @harbour Bike gone")
			f.mustOK(t, who, "/incident resolve INC-1 Found it")
			if inc := f.incident(t, 1); inc.Status != store.StatusResolved || inc.ResolvedBy != who {
				t.Errorf("INC-1 = %+v, want resolved by %s", inc, who)
			}
		})
	}
}

// TestListAndShow: list shows open incidents newest first, filtered by
// site; all includes resolved ones; a guard may add updates.
func TestListAndShow(t *testing.T) {
	f := newFixture(t, saturday0800)
	f.mustOK(t, "amara", "/incident raise intrusion @harbour Fence cut")
	f.mustOK(t, "dev", "/incident raise theft @depot Diesel siphoned")
	f.mustOK(t, "ben", "/incident raise hazard @harbour Oil on ramp")
	f.mustOK(t, "farid", "/incident resolve INC-3 Cleaned")

	lines := func(r commands.Reply) []string { return strings.Split(r.Text, "\n") }
	ids := func(r commands.Reply) []string {
		var out []string
		for _, l := range lines(r)[1:] {
			out = append(out, strings.Fields(l)[0])
		}
		return out
	}

	r := f.mustOK(t, "amara", "/incident list")
	if got := ids(r); strings.Join(got, ",") != "INC-2,INC-1" || !strings.HasPrefix(r.Text, "Open incidents (2, newest first):") {
		t.Errorf("list = %q", r.Text)
	}
	r = f.mustOK(t, "amara", "/incident list all")
	if got := ids(r); strings.Join(got, ",") != "INC-3,INC-2,INC-1" {
		t.Errorf("list all = %q", r.Text)
	}
	r = f.mustOK(t, "amara", "/incident list all @harbour")
	if got := ids(r); strings.Join(got, ",") != "INC-3,INC-1" || !strings.HasPrefix(r.Text, "Incidents at Harbour Point HQ") {
		t.Errorf("list all @harbour = %q", r.Text)
	}
	if !strings.Contains(r.Text, "resolved") || !strings.Contains(r.Text, "Oil on ramp") {
		t.Errorf("list all @harbour = %q: want INC-3's status and text", r.Text)
	}
	r = f.mustOK(t, "amara", "/incident list @depot open")
	if got := ids(r); strings.Join(got, ",") != "INC-2" {
		t.Errorf("list @depot open = %q", r.Text)
	}
	checkUsage(t, f.as(t, "dev", "/incident resolve INC-2 x"), "you are guard") // dev is a guard
	if f.incident(t, 2).Status != store.StatusOpen {
		t.Fatal("a guard resolved INC-2")
	}

	// A guard adds what they know; show lists the timeline.
	f.set(saturday0800.Add(5 * time.Minute))
	r = f.mustOK(t, "ben", `/incident update INC-1 "Police on the way"`)
	if r.Text != "INC-1 updated by Ben Walsh: Police on the way" {
		t.Errorf("update reply = %q", r.Text)
	}
	show := f.mustOK(t, "ben", "/incident show INC-1").Text
	want := "INC-1 sev3 intrusion at Harbour Point HQ, open\n" +
		"Raised 08:00 by Amara Okafor: Fence cut\n" +
		"Timeline:\n" +
		"  08:00 Amara Okafor raised: Fence cut\n" +
		"  08:05 Ben Walsh update: Police on the way"
	if show != want {
		t.Errorf("show =\n%s\nwant\n%s", show, want)
	}

	// Nothing at a quiet site.
	r = f.mustOK(t, "dev", "/incident list @depot")
	if r.Text != "Open incidents at Riverside Depot (1, newest first):\n"+lines(r)[1] || ids(r)[0] != "INC-2" {
		t.Errorf("list @depot = %q", r.Text)
	}
	f.mustOK(t, "grace", "/incident resolve INC-2 Tank locked")
	if r = f.mustOK(t, "dev", "/incident list @depot"); r.Text != "Open incidents at Riverside Depot: none." {
		t.Errorf("empty list = %q", r.Text)
	}
}
