package scenario_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/muster-ops/muster/bot/board"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/store"
)

// browser finds Debian's Chromium, or skips the test saying how to get
// it (.ci/run installs it).
func browser(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("skipped: Chromium is not installed; apt-get install chromium to run the board's browser test (.ci/run does)")
	return ""
}

// hostileTexts are incidents whose text would run script or inject
// markup if the board did not escape it; none may.
var hostileTexts = []string{
	`<script>window.__pwned = "script"</script>`,
	`<img src=x onerror="window.__pwned = 'img'">`,
	`"><svg onload="window.__pwned = 'svg'"></svg>`,
	`</td></tr></table><iframe src="javascript:window.top.__pwned='iframe'"></iframe>`,
	`{{.CSRF}} ${window.__pwned = 'template'} <a href="javascript:window.__pwned='a'">click</a>`,
	injection,
	sqlShell,
}

// The board in a real browser: sign in by link, see an incident raised
// by a signed Slack command appear within a second, acknowledge a task by
// its button and see the Slack card edited, and render the hostile
// inputs as text with nothing executed.
func TestBoardInBrowser(t *testing.T) {
	exe := browser(t)
	f := scenario.NewFront(t, scenario.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.Svc.SetBoardURL(f.App.URL)
	bd := board.New(board.Options{Store: f.Store, Commands: f.Svc, BaseURL: f.App.URL})
	bd.Mount(f.Server)
	go func() { _ = bd.Run(ctx) }()

	f.As("jonah").MustDo("/plan trigger medical-emergency @harbour")
	f.Settle()
	tasks, err := f.Store.OpenTasksFor(ctx, "amara")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("amara holds no task (%v)", err)
	}
	task := store.FormatID("T", tasks[0])

	r := f.As("amara").MustDo("/muster board")
	link := r.Text[strings.Index(r.Text, f.App.URL):]

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	// The first call starts the browser: no timeout on it.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	run := func(what string, d time.Duration, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(bctx, d)
		defer cancel()
		if err := chromedp.Do(c, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(what string, sel chromedp.CSS) string {
		t.Helper()
		c, cancel := context.WithTimeout(bctx, 5*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}

	// A link opened twice: the second time it is refused.
	run("open the link", 30*time.Second, chromedp.Navigate(link), chromedp.Click(chromedp.ID("open")),
		chromedp.WaitVisible(chromedp.ID("board")), chromedp.WaitVisible(chromedp.CSS("#live.on")))
	run("open it again", 10*time.Second, chromedp.Navigate(link), chromedp.Click(chromedp.ID("open")),
		chromedp.WaitVisible(chromedp.CSS("strong")))
	if refused := text("the refusal", "body"); !strings.Contains(refused, "used already or has expired") {
		t.Errorf("a used link: %q", refused)
	}
	run("back to the board", 10*time.Second, chromedp.Navigate(f.App.URL+"/board"), chromedp.WaitVisible(chromedp.CSS("#live.on")))

	// An incident raised by a signed Slack command shows within 1 s.
	form := f.SlashForm(amaraSlack, harbourSlack, "/incident", "raise intrusion sev1 @harbour Ladder against the north fence")
	start := time.Now()
	if status, answer := serve(f, f.SlackRequest("/slack/commands", []byte(form.Encode()), scenario.FormType)); status != http.StatusOK || !strings.Contains(answer, "raised") {
		t.Fatalf("slack raise: %d %s", status, answer)
	}
	run("see the incident", 5*time.Second, chromedp.WaitVisible(chromedp.Search(`//td[contains(., "Ladder against the north fence")]`)))
	if took := time.Since(start); took > time.Second {
		t.Errorf("the incident took %s to reach the board, want within 1s", took)
	} else {
		t.Logf("incident on the board %s after the Slack command", took.Round(time.Millisecond))
	}
	obl := text("its police clock", `tr.sev1 td:nth-child(6)`)
	if !strings.Contains(obl, "police-report: pending 59m") && !strings.Contains(obl, "police-report: pending 1h 00m") {
		t.Errorf("the obligation clock reads %q", obl)
	}

	// Acknowledge the task by its button; the Slack card is edited.
	before := len(f.SlackFake.Posts())
	run("acknowledge "+task, 10*time.Second, chromedp.Click(chromedp.CSS(`button[data-cmd="ack"][data-ref="`+task+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#toast div`)))
	toast := text("the button's answer", `#toast div`)
	if !strings.Contains(toast, task) || !strings.Contains(toast, "acknowledged") {
		t.Errorf("the button answered %q", toast)
	}
	run("see it acknowledged", 5*time.Second, chromedp.WaitVisible(chromedp.CSS(`tr.task.acknowledged[id="`+task+`"]`)))
	f.Settle()
	edited := false
	for _, p := range f.SlackFake.Posts()[before:] {
		if p.Method == "chat.update" && strings.Contains(string(p.Blocks), "Acknowledged by Amara Okafor") && strings.Contains(string(p.Blocks), task) {
			edited = true
		}
	}
	if !edited {
		t.Errorf("the Slack card of %s was not edited after the board's button", task)
	}
	shot(t, bctx, "board.png")

	// The hostile-input table: every text shown as typed, nothing run.
	for _, text := range hostileTexts {
		f.As("amara").MustDo("/incident raise other @harbour " + text)
	}
	run("see the last hostile text", 5*time.Second, chromedp.WaitVisible(chromedp.Search(`//td[contains(., "DROP TABLE incidents")]`)))
	c, ccancel := context.WithTimeout(bctx, 5*time.Second)
	defer ccancel()
	pwned, err := chromedp.Run(c, chromedp.Evaluate[bool](`window.__pwned !== undefined`))
	if err != nil {
		t.Fatal(err)
	}
	scripts, err := chromedp.Run(c, chromedp.Evaluate[int](`document.querySelectorAll("script, iframe, svg, img").length`))
	if err != nil {
		t.Fatal(err)
	}
	body := text("the board", "#board")
	if pwned || scripts != 1 {
		t.Errorf("hostile text ran or became markup: pwned %v, %d script/iframe/svg/img elements (want only board.js)", pwned, scripts)
	}
	for _, text := range hostileTexts {
		// The console keeps the text after the first quote-free word as
		// typed; compare a distinctive piece of each.
		piece := strings.Fields(text)[0]
		if !strings.Contains(body, strings.Trim(piece, `"'`)) {
			t.Errorf("hostile text %q not shown as text", text)
		}
	}
	shot(t, bctx, "board-hostile.png")
}

// shot saves a screenshot of the board in a temporary directory, or in
// MUSTER_BOARD_SCREENSHOTS (docs/ for the README).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("MUSTER_BOARD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
