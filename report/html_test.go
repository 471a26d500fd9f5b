package report_test

import (
	"bytes"
	"context"
	"html"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/report"
)

// TestReviewHTMLIsSelfContained: one file, no scripts, nothing fetched;
// every section of the pack, and charts with axes, units and targets.
func TestReviewHTMLIsSelfContained(t *testing.T) {
	h := playMonth(t)
	b := report.New(h.Config, h.Store)
	r := monthReview(t, b, "")
	var out bytes.Buffer
	if err := b.ReviewDoc(r).HTML(&out); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	for _, bad := range []string{"<script", "src=", "href=", "@import", "url(", "https:"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("the pack contains %q: it must need nothing outside the file", bad)
		}
	}
	for _, h := range report.ReviewSections {
		if !strings.Contains(page, "<h2>"+html.EscapeString(h)+"</h2>") {
			t.Errorf("no section %q", h)
		}
	}
	if n := strings.Count(page, "<svg "); n != 5 {
		t.Errorf("%d inline SVG charts, want 5", n)
	}
	for _, want := range []string{
		// Every chart has its value axis with ticks and a name with the
		// unit, centred under the axis (190 + 360/2) and 36 px below its
		// rows (24 px each, from 10 px down): objectives 6 rows, TTA by
		// site 2, drills 3.
		`<text class="axis-name" x="370" y="190" text-anchor="middle">minutes from the trigger to the last acknowledgement (min)</text>`,
		`<text class="axis-name" x="370" y="94" text-anchor="middle">minutes from the raise to the acknowledgement (min)</text>`,
		`<text class="axis-name" x="370" y="118" text-anchor="middle">drills in the period</text>`,
		// The objectives' axis runs 0 to 20 minutes in steps of 5.
		`<text class="tick" x="280.0" y="172" text-anchor="middle">5</text>`,
		`<text class="tick" x="550.0" y="172" text-anchor="middle">20</text>`,
		// Targets: each plan's, and the drills planned.
		`<line class="target" x1="280.0"`, // 5 min of a 20 min axis
		// No data says so.
		`<text class="no-data" x="196" y="26" font-style="italic">no data: none in the period</text>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the pack lacks %q", want)
		}
	}
	if n := strings.Count(page, `class="axis-name"`); n != 5 {
		t.Errorf("%d axis names, want one per chart (5)", n)
	}
	if !strings.Contains(page, "@media print") {
		t.Error("no print style")
	}
}

// chromium finds Debian's Chromium, or skips the test saying how to get it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("skipped: Chromium is not installed; apt-get install chromium to run this test (.ci/run does)")
	return ""
}

// TestReviewHTMLRendersInChromium makes the pack of the scripted month with
// `muster report review --format html`, renders it in headless Chromium and
// takes a screenshot: the DOM has every section, the five charts and their
// bars, the hand-computed figures; the screenshot shows the bars' colour
// over the area the figures give them, and the target lines; and it
// prints to PDF.
func TestReviewHTMLRendersInChromium(t *testing.T) {
	bin := chromium(t)
	h := playMonth(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "review.html")
	if code, out, errOut := runCLI(t, h, "report", "review", "--from", "2026-02-01", "--to", "2026-02-28", "--format", "html", "--out", page); code != 0 {
		t.Fatalf("report review: %d %s %s", code, out, errOut)
	}
	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
			"--user-data-dir=" + filepath.Join(dir, "profile"), "--hide-scrollbars", "--force-device-scale-factor=1"}
		cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}

	// The DOM as Chromium parsed it.
	dom := string(run("--dump-dom", "file://"+page))
	for _, h := range report.ReviewSections {
		if !strings.Contains(dom, "<h2>"+html.EscapeString(h)+"</h2>") {
			t.Errorf("the rendered pack has no section %q", h)
		}
	}
	if n := strings.Count(dom, "<svg "); n != 5 {
		t.Fatalf("the parsed DOM has %d svg elements, want 5", n)
	}
	// Bars: objectives 4 (fire drills, intruder live, medical live and
	// drills; the other two rows say there is no data), sites 2,
	// severities 4, TTA by site 2, drills planned and held 3.
	if n := len(regexp.MustCompile(`<rect class="bar"`).FindAllString(dom, -1)); n != 15 {
		t.Fatalf("the parsed DOM has %d bars, want 15", n)
	}
	for _, want := range []string{
		"<td>Incidents raised</td><td>10</td><td>1</td><td>+9</td>",
		"<td>All incidents</td><td>10</td><td>8</td><td>5m0s</td><td>not acknowledged</td><td>8</td><td>1h30m0s</td><td>not resolved</td>",
		"<td>Farid Haddad</td><td>4</td>",
		"<td>Drills planned</td><td>4</td><td>2</td><td>+2</td>",
		"<dt>Overdue now</dt><dd>1</dd>",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered pack lacks %q", want)
		}
	}

	// The screenshot: the bars are painted. By the pack's numbers their
	// lengths are, on each chart's axis (360 px long):
	//   objectives, axis 0-20 min: 1.8 (1m45s), 19, 4, 2.5 -> 32.4+342+72+45
	//   sites, axis 0-6: 6 and 4 -> 360+240
	//   severities, axis 0-4: 2, 3, 4, 1 -> 180+270+360+90
	//   TTA by site, axis 0-5 min: 5 and 5 -> 360+360
	//   drills, axis 0-2: 1, 1, 0 held -> 180+180+0
	// 3071.4 px x 16 px = 49142 px at scale 1; the target lines cross a
	// few of them.
	shot := filepath.Join(dir, "review.png")
	run("--window-size=1100,9000", "--screenshot="+shot, "file://"+page)
	img, err := readPNG(shot)
	if err != nil {
		t.Fatal(err)
	}
	bar, target := [3]uint32{0x1f, 0x5f, 0xa8}, [3]uint32{0xc0, 0x39, 0x2b} // report.BarColor, report.TargetColor
	bars, targets := 0, 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			switch {
			case near(r>>8, bar[0]) && near(g>>8, bar[1]) && near(b>>8, bar[2]):
				bars++
			case near(r>>8, target[0]) && near(g>>8, target[1]) && near(b>>8, target[2]):
				targets++
			}
		}
	}
	t.Logf("%d pixels in the bar colour, %d in the target colour", bars, targets)
	if bars < 44000 || bars > 50000 {
		t.Errorf("%d pixels in the bar colour %s, want about 49142: the charts did not render as drawn", bars, report.BarColor)
	}
	if targets < 100 {
		t.Errorf("%d pixels in the target colour %s: no target lines", targets, report.TargetColor)
	}

	// It prints: Chromium makes a PDF of it.
	pdf := filepath.Join(dir, "review.pdf")
	run("--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+page)
	data, err := os.ReadFile(pdf)
	if err != nil || !bytes.HasPrefix(data, []byte("%PDF")) {
		t.Fatalf("print to PDF: %v (%d bytes)", err, len(data))
	}
}

func near(a, b uint32) bool { return a+2 >= b && a <= b+2 }

func readPNG(path string) (interface {
	Bounds() image.Rectangle
	At(x, y int) color.Color
}, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
}
