package board_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/bot"
	"github.com/muster-ops/muster/bot/board"
	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/internal/testtime"
	"github.com/muster-ops/muster/store"
)

const displayToken = "wall-token-0123456789"

// fixture is a board on the example config over a real store, served by
// an httptest server.
type fixture struct {
	t   *testing.T
	cfg *configs.Config
	st  *store.Store
	clk *clock.Fake
	svc *commands.Service
	b   *board.Board
	srv *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureEnv(t, func(k string) string {
		if k == "MUSTER_BOARD_CONTROL_ROOM" {
			return displayToken
		}
		return ""
	})
}

// newFixtureEnv is newFixture with display tokens read from getenv.
func newFixtureEnv(t *testing.T, getenv func(string) string) *fixture {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(testtime.Start)
	st := storetest.Open(t, clk.Now)
	svc := commands.New(commands.Options{Config: cfg, Store: st, Now: clk.Now})
	b := board.New(board.Options{Store: st, Commands: svc, Getenv: getenv})
	s := bot.NewServer(nil, nil, nil)
	b.Mount(s)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &fixture{t: t, cfg: cfg, st: st, clk: clk, svc: svc, b: b, srv: srv}
}

func (f *fixture) do(person, line string) commands.Reply {
	f.t.Helper()
	r := f.svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformConsole, UserID: person, Text: line})
	if r.Error {
		f.t.Fatalf("%s (as %s): %s", line, person, r.Text)
	}
	return r
}

// client is a browser without JavaScript: cookies, no redirects
// followed.
func (f *fixture) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// link asks for a sign-in link as person and returns its token.
func (f *fixture) link(person string) string {
	f.t.Helper()
	r := f.do(person, "/muster board")
	if r.Public {
		f.t.Errorf("the link was posted for everyone to see: %+v", r)
	}
	i := strings.Index(r.Text, "https://muster.example.com/board/login?t=")
	if i < 0 {
		f.t.Fatalf("no link in %q", r.Text)
	}
	u, err := url.Parse(strings.Fields(r.Text[i:])[0])
	if err != nil {
		f.t.Fatal(err)
	}
	return u.Query().Get("t")
}

// signIn spends a link on c and returns the answer.
func (f *fixture) signIn(c *http.Client, tok string) *http.Response {
	f.t.Helper()
	resp, err := c.PostForm(f.srv.URL+"/board/login", url.Values{"t": {tok}})
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (f *fixture) get(c *http.Client, path string) (int, string) {
	f.t.Helper()
	resp, err := c.Get(f.srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	const at = `<meta name="csrf-token" content="`
	i := strings.Index(page, at)
	if i < 0 {
		t.Fatalf("no CSRF token in the page")
	}
	rest := page[i+len(at):]
	return rest[:strings.Index(rest, `"`)]
}

func (f *fixture) post(c *http.Client, path, csrf string, form url.Values) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// No route of /board answers without a session or a display token.
func TestBoardRefusesWithoutSession(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for _, path := range []string{"/board", "/board/", "/board/events", "/board/static/board.js", "/board/static/board.css", "/board/login", "/board/login?t=nosuchlink0", "/board/display?token=wrong"} {
		status, body := f.get(c, path)
		if path == "/board/login?t=nosuchlink0" {
			// Only a page with the button that spends the link: it is
			// refused when the button is pressed (below).
			if status != http.StatusOK || strings.Contains(body, "board-body") {
				t.Errorf("GET %s: %d", path, status)
			}
			continue
		}
		if status != http.StatusUnauthorized {
			t.Errorf("GET %s: %d, want 401", path, status)
		}
		if path == "/board" && !strings.Contains(body, "/muster board") {
			t.Errorf("GET /board without a session does not say how to get a link:\n%s", body)
		}
	}
	for _, path := range []string{"/board/action", "/board/logout"} {
		if status, _ := f.post(c, path, "x", url.Values{"cmd": {"ack"}, "ref": {"T-1"}}); status != http.StatusUnauthorized {
			t.Errorf("POST %s: %d, want 401", path, status)
		}
	}
	if resp := f.signIn(c, "nosuchlink0"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unknown link: %d, want 401", resp.StatusCode)
	}
}

// A link opens one session, once, within 10 minutes; the cookie is
// HttpOnly, Secure (public_url is https) and SameSite=Strict.
func TestBoardLinkOnceAndExpires(t *testing.T) {
	f := newFixture(t)
	tok := f.link("amara")
	c := f.client()
	resp := f.signIn(c, tok)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/board" {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	set := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"muster_board=", "HttpOnly", "Secure", "SameSite=Strict", "Max-Age=43200", "Path=/board"} {
		if !strings.Contains(set, want) {
			t.Errorf("cookie %q lacks %s", set, want)
		}
	}
	// The Secure cookie is not sent back over plain http by the jar:
	// send it by hand.
	cookie := strings.SplitN(strings.SplitN(set, ";", 2)[0], "=", 2)[1]
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/board", nil)
	req.AddCookie(&http.Cookie{Name: "muster_board", Value: cookie})
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusOK {
		t.Errorf("the session's cookie: %d", r2.StatusCode)
	}
	if resp := f.signIn(f.client(), tok); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the same link again: %d, want 401", resp.StatusCode)
	}
	late := f.link("amara")
	f.clk.Advance(10*time.Minute + time.Second)
	if resp := f.signIn(f.client(), late); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a link 10 minutes old: %d, want 401", resp.StatusCode)
	}
	// Sessions end after 12 hours.
	f.clk.Advance(12 * time.Hour)
	r3, _ := http.DefaultClient.Do(req)
	r3.Body.Close()
	if r3.StatusCode != http.StatusUnauthorized {
		t.Errorf("a session 12 hours old: %d, want 401", r3.StatusCode)
	}
}

// plainFixture serves the board on http (no Secure cookies), so a cookie
// jar sends the session back.
func plainFixture(t *testing.T) *fixture {
	f := newFixture(t)
	f.cfg.Server.PublicURL = ""
	f.svc.SetBoardURL("https://muster.example.com")
	return f
}

func (f *fixture) signedIn(person string) (*http.Client, string) {
	f.t.Helper()
	c := f.client()
	if resp := f.signIn(c, f.link(person)); resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("sign-in as %s: %d", person, resp.StatusCode)
	}
	status, page := f.get(c, "/board")
	if status != http.StatusOK {
		f.t.Fatalf("board as %s: %d", person, status)
	}
	return c, page
}

// Text people typed is escaped; a guard sees only her own sites;
// buttons need the CSRF token and run through the commands' permission
// checks; displays are read-only; sign-out ends the sessions.
func TestBoardShowsActsAndRefuses(t *testing.T) {
	f := plainFixture(t)
	f.do("amara", `/incident raise intrusion sev2 @harbour <script>alert("x")</script><img src=x onerror=alert(1)>`)
	f.do("dev", "/incident raise theft @depot van broken into at the depot")
	f.do("jonah", "/plan trigger medical-emergency @harbour")

	c, page := f.signedIn("amara")
	for _, bad := range []string{"<script>alert", "<img src=x"} {
		if strings.Contains(page, bad) {
			t.Errorf("the board carries %q unescaped", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Errorf("the incident's text is not shown escaped:\n%s", page)
	}
	if strings.Contains(page, "van broken into") {
		t.Errorf("a harbour guard sees a depot incident")
	}
	if !strings.Contains(page, "Attend the casualty") {
		t.Errorf("the plan's tasks are missing:\n%s", page)
	}
	csrf := csrfOf(t, page)
	if status, _ := f.post(c, "/board/action", "", url.Values{"cmd": {"ack"}, "ref": {"T-1"}}); status != http.StatusForbidden {
		t.Errorf("a button without CSRF: %d, want 403", status)
	}
	if status, _ := f.post(c, "/board/action", "wrong", url.Values{"cmd": {"ack"}, "ref": {"T-1"}}); status != http.StatusForbidden {
		t.Errorf("a button with a wrong CSRF token: %d, want 403", status)
	}
	if status, _ := f.post(c, "/board/action", csrf, url.Values{"cmd": {"rm -rf"}, "ref": {"T-1"}}); status != http.StatusBadRequest {
		t.Errorf("an unknown button: %d, want 400", status)
	}
	var rep struct {
		Text  string
		Error bool
	}
	status, body := f.post(c, "/board/action", csrf, url.Values{"cmd": {"resolve"}, "ref": {"INC-1"}, "text": {"all clear"}})
	if json.Unmarshal([]byte(body), &rep); status != http.StatusOK || !rep.Error || !strings.Contains(rep.Text, "Only a supervisor") {
		t.Errorf("a guard resolving by button: %d %s", status, body)
	}
	tasks, _ := f.st.OpenTasksFor(context.Background(), "amara")
	if len(tasks) == 0 {
		t.Fatal("amara holds no task")
	}
	ref := store.FormatID("T", tasks[0])
	status, body = f.post(c, "/board/action", csrf, url.Values{"cmd": {"ack"}, "ref": {ref}})
	if json.Unmarshal([]byte(body), &rep); status != http.StatusOK || rep.Error || !strings.Contains(rep.Text, ref) {
		t.Errorf("ack by button: %d %s", status, body)
	}
	if tk, _ := f.st.Task(context.Background(), tasks[0]); tk.Status != store.TaskAcknowledged || tk.AckedBy != "amara" {
		t.Errorf("%s after the button: %s by %s", ref, tk.Status, tk.AckedBy)
	}

	// A wall display: every site, no buttons, no POST.
	d := f.client()
	if status, _ := f.get(d, "/board/display?token=wrong-token"); status != http.StatusUnauthorized {
		t.Errorf("a wrong display token: %d", status)
	}
	if status, _ := f.get(d, "/board/display?token="+displayToken); status != http.StatusSeeOther {
		t.Errorf("the display token: %d", status)
	}
	status, wall := f.get(d, "/board")
	if status != http.StatusOK || !strings.Contains(wall, "van broken into") || strings.Contains(wall, "<button data-cmd") {
		t.Errorf("wall display: %d, want every site and no buttons", status)
	}
	if status, _ := f.post(d, "/board/action", "", url.Values{"cmd": {"ack"}, "ref": {"T-2"}}); status != http.StatusForbidden {
		t.Errorf("a display's POST: %d, want 403", status)
	}

	// Sign-out: a guard may not sign others out; a coordinator may.
	if r := f.svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformConsole, UserID: "amara", Text: "/muster board logout jonah"}); !r.Error {
		t.Errorf("a guard signed a coordinator out: %q", r.Text)
	}
	if r := f.do("jonah", "/muster board logout amara"); !strings.Contains(r.Text, "1 session(s) ended") {
		t.Errorf("logout answers %q", r.Text)
	}
	if status, _ := f.get(c, "/board"); status != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", status)
	}
}

// Every change reaches an open event stream within a second.
func TestBoardStreamsChanges(t *testing.T) {
	f := plainFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = f.b.Run(ctx) }()
	c, _ := f.signedIn("hugo")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/board/events", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, ct)
	}
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev strings.Builder
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				events <- ev.String()
				ev.Reset()
				continue
			}
			ev.WriteString(line + "\n")
		}
		close(events)
	}()
	next := func(within time.Duration) string {
		select {
		case e := <-events:
			return e
		case <-time.After(within):
			return ""
		}
	}
	if first := next(5 * time.Second); !strings.Contains(first, "event: board") {
		t.Fatalf("first event: %q", first)
	}
	for _, text := range []string{"ladder against the north fence", "smoke from the plant room"} {
		start := time.Now()
		f.do("amara", "/incident raise intrusion @harbour "+text)
		for {
			e := next(time.Second - time.Since(start))
			if e == "" {
				t.Fatalf("the board did not show %q within 1s", text)
			}
			if strings.Contains(e, text) {
				t.Logf("%q on the board after %s", text, time.Since(start).Round(time.Millisecond))
				break
			}
		}
	}
}

// The board's "People safety" section: an open roll call with its tally
// and the lone workers with their next check-in, each at its site only
// for a guard, every typed note escaped, and a roll-call answer reaching
// an open event stream within a second.
func TestBoardShowsPeopleSafety(t *testing.T) {
	f := plainFixture(t)
	f.b = board.New(board.Options{Store: f.st, Commands: f.svc, Safety: &board.Safety{Records: f.st, Config: f.cfg}})
	s := bot.NewServer(nil, nil, nil)
	f.b.Mount(s)
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)

	f.do("farid", `/rollcall start @harbour <b>assembly</b> point B`)
	f.do("dev", `/checkin start 15m @depot <script>alert(1)</script> yard patrol`)

	c, page := f.signedIn("hugo")
	for _, want := range []string{"People safety", `id="R-1"`, "Harbour Point HQ", `class="safe">0<`, "4 of 4",
		"&lt;b&gt;assembly&lt;/b&gt; point B", `id="L-1"`, "Dev", "&lt;script&gt;alert(1)&lt;/script&gt; yard patrol",
		`data-deadline="` + strconv.FormatInt(f.clk.Now().Add(15*time.Minute).UnixMilli(), 10) + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("control's board lacks %q", want)
		}
	}
	for _, bad := range []string{"<b>assembly", "<script>alert"} {
		if strings.Contains(page, bad) {
			t.Errorf("the board carries %q unescaped", bad)
		}
	}
	_, guard := f.signedIn("amara")
	if !strings.Contains(guard, `id="R-1"`) || strings.Contains(guard, `id="L-1"`) {
		t.Errorf("a harbour guard should see the harbour roll call and not the depot's lone worker")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = f.b.Run(ctx) }()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/board/events", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev strings.Builder
		for sc.Scan() {
			if sc.Text() == "" {
				events <- ev.String()
				ev.Reset()
				continue
			}
			ev.WriteString(sc.Text() + "\n")
		}
		close(events)
	}()
	select {
	case <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no first event")
	}
	start := time.Now()
	f.do("amara", "/rollcall safe")
	for {
		var e string
		select {
		case e = <-events:
		case <-time.After(time.Second - time.Since(start)):
			t.Fatal("the answer did not reach the board within 1s")
		}
		if strings.Contains(e, `class="safe">1<`) && strings.Contains(e, "3 of 4") {
			t.Logf("the answer on the board after %s", time.Since(start).Round(time.Millisecond))
			break
		}
	}
	f.do("dev", "/checkin stop")
	f.do("farid", "/rollcall stop R-1")
	start = time.Now()
	for {
		var e string
		select {
		case e = <-events:
		case <-time.After(time.Second - time.Since(start)):
			t.Fatal("the stopped roll call and session did not leave the board within 1s")
		}
		if strings.Contains(e, "No open roll call.") && strings.Contains(e, "Nobody on lone-worker check-ins.") {
			break
		}
	}
}

// A wall display's token may come from a file (MUSTER_BOARD_CONTROL_ROOM_FILE,
// as container secrets do), and a token rotated in that file takes effect
// at the next sign-in, without a restart.
func TestBoardDisplayTokenFromFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "control-room-token")
	if err := os.WriteFile(file, []byte(displayToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixtureEnv(t, func(k string) string {
		if k == "MUSTER_BOARD_CONTROL_ROOM_FILE" {
			return file
		}
		return ""
	})
	if status, _ := f.get(f.client(), "/board/display?token="+displayToken); status != http.StatusSeeOther {
		t.Fatalf("the token from the file: %d, want 303 to the board", status)
	}
	rotated := "wall-token-rotated-987654"
	if err := os.WriteFile(file, []byte(rotated), 0o600); err != nil {
		t.Fatal(err)
	}
	if status, _ := f.get(f.client(), "/board/display?token="+displayToken); status != http.StatusUnauthorized {
		t.Errorf("the token before rotation: %d, want 401", status)
	}
	if status, _ := f.get(f.client(), "/board/display?token="+rotated); status != http.StatusSeeOther {
		t.Errorf("the rotated token: %d, want 303", status)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if status, _ := f.get(f.client(), "/board/display?token="+rotated); status != http.StatusUnauthorized {
		t.Errorf("a token whose file is gone: %d, want 401", status)
	}
}

// With nobody watching a board, changes do not rebuild it (a busy
// organization's records change many times a second), but the next page
// shows them: a change marks the board out of date and the page rebuilds
// it.
func TestBoardPageFreshWithNobodyWatching(t *testing.T) {
	f := plainFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = f.b.Run(ctx) }()
	c, page := f.signedIn("hugo")
	if strings.Contains(page, "pallets stacked against the gate") {
		t.Fatal("the page shows the incident before it was raised")
	}
	f.do("amara", "/incident raise intrusion @harbour pallets stacked against the gate")
	deadline := time.Now().Add(3 * time.Second)
	for {
		status, page := f.get(c, "/board")
		if status == http.StatusOK && strings.Contains(page, "pallets stacked against the gate") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not show the incident raised while nobody watched within 3 s: %d", status)
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond): // the next look at the page
		}
	}
}
