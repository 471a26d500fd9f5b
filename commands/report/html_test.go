package report_test

import (
	"bytes"
	"context"
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

	"github.com/muster-ops/muster/commands/report"
)

// TestReviewHTMLIsSelfContained: one file, no scripts, nothing fetched.
func TestReviewHTMLIsSelfContained(t *testing.T) {
	h := playMonth(t)
	b := report.New(h.Config, h.Store)
	r, err := b.Review(context.Background(), report.ReviewOptions{From: feb1, To: mar1, Now: genAt})
	if err != nil {
		t.Fatal(err)
	}
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
	if n := strings.Count(page, "<svg "); n != 4 {
		t.Errorf("%d inline SVG charts, want 4", n)
	}
	if !strings.Contains(page, "@media print") {
		t.Error("no print style")
	}
}

// TestReviewHTMLRendersInChromium renders the pack with headless
// Chromium: the DOM has the four charts and their bars, and a screenshot
// shows the bars' colour over the area they should cover. It needs
// /usr/bin/chromium (Debian's chromium package).
func TestReviewHTMLRendersInChromium(t *testing.T) {
	chromium := "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("skipped: /usr/bin/chromium is missing; apt-get install chromium to run this test")
	}
	h := playMonth(t)
	b := report.New(h.Config, h.Store)
	r, err := b.Review(context.Background(), report.ReviewOptions{From: feb1, To: mar1, Now: genAt})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "review.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ReviewDoc(r).HTML(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
			"--user-data-dir=" + filepath.Join(dir, "profile"), "--hide-scrollbars"}
		cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}

	// The DOM as Chromium parsed it: four SVG charts with their bars.
	dom := string(run("--dump-dom", "file://"+page))
	if n := strings.Count(dom, "<svg "); n != 4 {
		t.Fatalf("the parsed DOM has %d svg elements, want 4", n)
	}
	if n := len(regexp.MustCompile(`<rect class="bar"`).FindAllString(dom, -1)); n != 10 {
		t.Fatalf("the parsed DOM has %d bars, want 10 (2 sites, 4 severities, 2 sites, pass/fail)", n)
	}

	// The screenshot: the bars are painted. By the pack's numbers their
	// lengths are (of 360 px for the longest bar in each chart, 16 px high):
	// sites 5:3 -> 360+216, severities 1:3:3:1 -> 120+360+360+120, TTA 5:6 ->
	// 300+360, drills 1:1 -> 360+360: 2916 px x 16 = 46656 px at 1x.
	shot := filepath.Join(dir, "review.png")
	run("--window-size=1100,5000", "--screenshot="+shot, "file://"+page)
	img, err := readPNG(shot)
	if err != nil {
		t.Fatal(err)
	}
	want := [3]uint32{0x1f, 0x5f, 0xa8} // report.BarColor
	bars := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if near(r>>8, want[0]) && near(g>>8, want[1]) && near(b>>8, want[2]) {
				bars++
			}
		}
	}
	if bars < 40000 || bars > 60000 {
		t.Fatalf("%d pixels in the bar colour %s, want about 46656: the charts did not render as drawn", bars, report.BarColor)
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
