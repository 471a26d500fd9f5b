package benchreport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	xeon = Machine{CPUModel: "Intel(R) Xeon(R) Processor", CPUs: 2, MemTotal: "23.5 GiB", Go: "go1.26.8 linux/amd64", Redis: "Redis 7.0.15 (standalone)", LoadAvg: "0.20 0.30 0.40"}
	epyc = Machine{CPUModel: "AMD EPYC 7B13", CPUs: 2, MemTotal: "7.8 GiB", Go: "go1.26.8 linux/amd64", Redis: "Redis 7.0.15 (standalone)", LoadAvg: "2.50 2.00 1.00"}
)

func boardRun(m Machine, p99 time.Duration) BoardRun {
	return BoardRun{Date: time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC), Machine: m, LoadEnd: "1.00 1.00 1.00", RedisURL: "redis://127.0.0.1:6379/9", Boards: 200, Changes: 30,
		P50: 70 * time.Millisecond, P99: p99, Max: 198 * time.Millisecond, Idle: 33.7e6, WithBoards: 39e6, After: 45.9e6, Peak: 46e6}
}

func rollCallRun(m Machine) RollCallRun {
	return RollCallRun{Date: time.Date(2026, 12, 3, 17, 40, 0, 0, time.UTC), Machine: m, LoadEnd: "5.15 4.49 6.27", RedisURL: "redis://:secret@redis.internal:6379/0", People: 10000,
		Command: 1690 * time.Millisecond, FirstAll: 6540 * time.Millisecond, FirstP50: 3940 * time.Millisecond, FirstP99: 6520 * time.Millisecond,
		Answers: 10000, Rate: 500, P50: 53500 * time.Microsecond, P99: 418 * time.Millisecond, Max: 491 * time.Millisecond, Failed: 310, Recorded: 9690,
		Edits: 16, Cards: 2, MostInASecond: 1}
}

func benchReport(m Machine, day int) string {
	return Render(Report{Date: time.Date(2026, 12, day, 10, 0, 0, 0, time.UTC), Machine: m, LiveSkip: "off"})
}

// current is the part of a report above Earlier runs; earlier the rest.
func parts(doc string) (current, earlier string) {
	current, earlier, _ = strings.Cut(doc, earlierHeading)
	return current, earlier
}

// A make bench run keeps the board's and the roll call's sections: the
// one from its own CPU where it was, marked, among the figures; the one
// from another CPU under Earlier runs, unmarked, naming its CPU. A run
// after that changes neither.
func TestMakeBenchKeepsTheSeparateSections(t *testing.T) {
	old := benchReport(xeon, 1) + CarryEarlier("")
	old = PutBlock(old, boardRun(xeon, 196*time.Millisecond).Block())
	old = PutBlock(old, rollCallRun(epyc).Block())

	second := Compose(benchReport(xeon, 4), old, xeon.CPUName())
	cur, earlier := parts(second)
	blocks, _ := findBlocks(second)
	if len(blocks) != 1 || blocks[0].Owner != "bench-board" || blocks[0].Text != boardRun(xeon, 196*time.Millisecond).Block().Text {
		t.Fatalf("blocks kept: %+v", blocks)
	}
	if !strings.Contains(cur, "2026-12-04 10:00 UTC") || strings.Contains(cur, "2026-12-01 10:00 UTC") {
		t.Error("the current part is not the new report")
	}
	if b, h := strings.Index(cur, "## The live board"), strings.Index(cur, "## How it was run"); b < 0 || b > h {
		t.Errorf("the board's section is at %d, How it was run at %d: want it among the figures", b, h)
	}
	if strings.Contains(cur, "Roll call at scale") {
		t.Error("the roll call from another CPU stayed among this machine's figures")
	}
	for _, want := range []string{
		"### 2026-12-01 10:00 UTC, Intel(R) Xeon(R) Processor × 2 logical CPUs",
		"### Roll call at scale (`make bench-rollcall`), on AMD EPYC 7B13 × 2 logical CPUs",
		"| first message of everyone queued, after the command | 6.54 s | ≤ 1 s | **no** |",
	} {
		if !strings.Contains(earlier, want) {
			t.Errorf("Earlier runs lack %q:\n%s", want, earlier)
		}
	}
	if strings.Contains(earlier, "<!--") {
		t.Error("a moved section kept its markers: its owner would overwrite it there")
	}

	third := Compose(benchReport(xeon, 5), second, xeon.CPUName())
	if blocks, _ := findBlocks(third); len(blocks) != 1 || blocks[0].Owner != "bench-board" {
		t.Errorf("blocks after a third run: %+v", blocks)
	}
	_, earlier = parts(third)
	if n := strings.Count(earlier, "### Roll call at scale"); n != 1 {
		t.Errorf("the moved roll call appears %d times in Earlier runs", n)
	}
	if strings.Index(earlier, "2026-12-04") > strings.Index(earlier, "2026-12-01") {
		t.Error("the run replaced last is not first")
	}
	if strings.Count(third, "## Earlier runs") != 1 || strings.Count(third, "## The live board") != 1 {
		t.Error("a heading is repeated")
	}

	// On another CPU, make bench moves the board's section too.
	fourth := Compose(benchReport(epyc, 6), third, epyc.CPUName())
	if blocks, _ := findBlocks(fourth); len(blocks) != 0 {
		t.Errorf("blocks from the Xeon kept beside the EPYC's figures: %+v", blocks)
	}
	if _, earlier := parts(fourth); !strings.Contains(earlier, "### The live board (`make bench-board`), on Intel(R) Xeon(R) Processor × 2 logical CPUs") {
		t.Errorf("the board's section was not moved under Earlier runs:\n%s", earlier)
	}
}

// bench-board and bench-rollcall replace their own section and nothing
// else; one from another CPU moves under Earlier runs first.
func TestPutBlockReplacesItsOwn(t *testing.T) {
	doc := PutBlock(benchReport(xeon, 1)+CarryEarlier(benchReport(epyc, 0)), boardRun(xeon, 196*time.Millisecond).Block())
	doc = PutBlock(doc, rollCallRun(xeon).Block())

	again := PutBlock(doc, boardRun(xeon, 250*time.Millisecond).Block())
	if strings.Contains(again, "| 196 ms |") || !strings.Contains(again, "| 250 ms | ≤ 1 s | yes |") {
		t.Error("the board's figures were not replaced")
	}
	if strings.Count(again, "## The live board") != 1 || !strings.Contains(again, "## Roll call at scale") {
		t.Error("the board's section is doubled, or the roll call's lost")
	}
	if _, earlier := parts(again); strings.Contains(earlier, "live board") {
		t.Error("a section from the same CPU moved under Earlier runs")
	}

	moved := PutBlock(doc, boardRun(epyc, 2*time.Second).Block())
	cur, earlier := parts(moved)
	if !strings.Contains(cur, "| 2.00 s | ≤ 1 s | **no** |") || strings.Contains(cur, "196 ms") {
		t.Error("the new board's figures are not the current ones")
	}
	if i := strings.Index(earlier, "### "); i < 0 || !strings.HasPrefix(earlier[i:], "### The live board (`make bench-board`), on Intel(R) Xeon(R) Processor") {
		t.Errorf("the Xeon's board is not first under Earlier runs:\n%s", earlier)
	}
	if !strings.Contains(earlier, "| 196 ms |") {
		t.Error("the Xeon's board figures were lost")
	}

	// A file without a report, or without Earlier runs.
	fresh := PutBlock("", boardRun(epyc, time.Second).Block())
	if blocks, _ := findBlocks(fresh); len(blocks) != 1 || !strings.HasPrefix(fresh, "# muster benchmarks") {
		t.Errorf("a new file:\n%s", fresh)
	}
	moved = PutBlock(fresh, boardRun(xeon, time.Second).Block())
	if _, earlier := parts(moved); !strings.Contains(earlier, "on AMD EPYC 7B13") || !strings.Contains(moved, earlierIntro) {
		t.Errorf("no Earlier runs started for the EPYC's board:\n%s", moved)
	}
}

func TestWriteBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := WriteBlock(path, boardRun(xeon, time.Second).Block()); err != nil {
		t.Fatal(err)
	}
	if err := WriteBlock(path, rollCallRun(xeon).Block()); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if blocks, _ := findBlocks(string(raw)); len(blocks) != 2 {
		t.Errorf("%d blocks written, want 2:\n%s", len(blocks), raw)
	}
}

// An opening comment without its closing one is text, not a block.
func TestUnclosedBlockIsText(t *testing.T) {
	b := boardRun(xeon, time.Second).Block().String()
	doc := strings.TrimSuffix(b, blockEnd("bench-board")) + "\n" + rollCallRun(xeon).Block().String()
	blocks, _ := findBlocks(doc)
	if len(blocks) != 1 || blocks[0].Owner != "bench-rollcall" {
		t.Errorf("blocks = %+v", blocks)
	}
}

// Each separately measured section puts every goal beside its figure,
// met or not, and names the machine, date and load.
func TestSeparateSectionsSayTheirGoals(t *testing.T) {
	board := boardRun(xeon, 196*time.Millisecond)
	board.After = 61e6
	rc := rollCallRun(epyc)
	for _, c := range []struct {
		text string
		want []string
	}{
		{board.Block().Text, []string{
			"| a change on every one of 200 boards, p99 (6,000 deliveries) | 196 ms | ≤ 1 s | yes | p50 70.0 ms, max 198 ms |",
			"| RSS of `muster serve` with 200 boards connected | 39.0 MB | < 60 MB | yes | idle 33.7 MB |",
			"| RSS of `muster serve` after the changes | 61.0 MB | < 60 MB | **no** | peak (VmHWM) 46.0 MB |",
			"Ran on 2026-12-03 15:00 UTC on Intel(R) Xeon(R) Processor × 2 logical CPUs (23.5 GiB, go1.26.8 linux/amd64), Redis 7.0.15 (standalone) at redis://127.0.0.1:6379/9; load average (1, 5, 15 min) 0.20 0.30 0.40 at the start, 1.00 1.00 1.00 at the end; the benchmark's client, the fakes, `muster serve` and Redis share the CPUs.",
		}},
		{rc.Block().Text, []string{
			"| `/rollcall start` of 10,000: the command's answer | 1.69 s | ≤ 3 s (Slack's limit) | yes |",
			"| first message of everyone queued, after the command | 6.54 s | ≤ 1 s | **no** | p50 3.94 s, p99 6.52 s |",
			"| SMS answer to its record, p99 (10,000 at 500 a second) | 418 ms | ≤ 50 ms | **no** | p50 53.5 ms, max 491 ms |",
			"| answers not taken (not 200: shed, Twilio sends them again) | 310 of 10,000 | 0 | **no** | 9,690 recorded safe |",
			"| tally card edits, most in any second on one card | 1 | ≤ 1 | yes | 16 edits on 2 cards |",
			"on AMD EPYC 7B13 × 2 logical CPUs",
			"Redis 7.0.15 (standalone) at redis://***@redis.internal:6379/0;",
			"5.15 4.49 6.27 at the end; the benchmark's client, the fakes and `muster serve` share the CPUs.",
		}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.text, w) {
				t.Errorf("section lacks %q:\n%s", w, c.text)
			}
		}
	}
}

// docs/BENCHMARKS.md marks the sections make bench-board and make
// bench-rollcall own (those still among its current figures), so make
// bench keeps them, and every marker it has is closed.
func TestTheReportMarksItsSeparateSections(t *testing.T) {
	raw, err := os.ReadFile("../../docs/BENCHMARKS.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	cur, _ := parts(doc)
	blocks, _ := findBlocks(doc)
	if opened := len(blockStart.FindAllString(cur, -1)); opened != len(blocks) {
		t.Errorf("%d sections opened, %d closed", opened, len(blocks))
	}
	owned := map[string]string{"## The live board (`make bench-board`)": "bench-board", "## Roll call at scale (`make bench-rollcall`)": "bench-rollcall"}
	for heading, owner := range owned {
		if !strings.Contains(cur, heading) {
			continue
		}
		marked := false
		for _, b := range blocks {
			marked = marked || (b.Owner == owner && strings.HasPrefix(b.Text, heading))
		}
		if !marked {
			t.Errorf("%q is not in a section marked as %s's: make bench would drop it", heading, owner)
		}
	}
	// Against the file as it is now, a make bench elsewhere keeps both.
	after := Compose(benchReport(xeon, 5), doc, "another CPU")
	for heading := range owned {
		if !strings.Contains(after, heading) {
			t.Errorf("after a make bench on another CPU, %q is gone", heading)
		}
	}
}
