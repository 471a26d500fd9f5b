package benchreport

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Block is a part of docs/BENCHMARKS.md written by a benchmark of its own
// (make bench-board, make bench-rollcall) rather than by make bench. It
// sits between two comments that name its owner and the CPU it ran on.
// make bench keeps a block that ran on the CPU it runs on where it is,
// and moves one from another CPU under Earlier runs, so figures from two
// machines never stand side by side as if comparable.
type Block struct {
	// Owner is the make target that writes it ("bench-board").
	Owner string
	// CPU is the machine's CPU as the report names it (Machine.CPUName).
	CPU string
	// Text is the block's Markdown, from its "## " heading on.
	Text string
}

// blockStart and blockEnd are the comments around a block.
var (
	blockStart = regexp.MustCompile(`(?m)^<!-- ([a-z-]+): written by make [a-z-]+, kept by make bench; cpu: (.*) -->\n`)
	blockEnd   = func(owner string) string { return "<!-- /" + owner + " -->\n" }
)

// String is the block with its comments, as it stands in the file.
func (b Block) String() string {
	return fmt.Sprintf("<!-- %s: written by make %s, kept by make bench; cpu: %s -->\n%s\n%s",
		b.Owner, b.Owner, b.CPU, strings.TrimSpace(b.Text), blockEnd(b.Owner))
}

// earlier is the block as an entry of Earlier runs: its heading one level
// down and naming the CPU, without the comments (make bench and the
// block's owner leave it alone from then on).
func (b Block) earlier() string {
	lines := strings.Split(strings.TrimSpace(b.Text), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "#") {
			lines[i] = "#" + l
		}
	}
	if len(lines) > 0 && strings.HasPrefix(lines[0], "### ") {
		lines[0] += ", on " + b.CPU
	} else {
		lines = append([]string{"### " + b.Owner + ", on " + b.CPU, ""}, lines...)
	}
	return strings.Join(lines, "\n") + "\n\n"
}

// findBlocks returns the blocks above Earlier runs in doc with their
// places: doc[at[i][0]:at[i][1]] is blocks[i] with its comments.
func findBlocks(doc string) (blocks []Block, at [][2]int) {
	cur, _, _ := strings.Cut(doc, earlierHeading)
	for off := 0; ; {
		m := blockStart.FindStringSubmatchIndex(cur[off:])
		if m == nil {
			return blocks, at
		}
		owner, cpu := cur[off+m[2]:off+m[3]], cur[off+m[4]:off+m[5]]
		body := off + m[1]
		end := strings.Index(cur[body:], blockEnd(owner))
		if end < 0 {
			// Unclosed: not a block; look on after its opening comment.
			off = body
			continue
		}
		blocks = append(blocks, Block{Owner: owner, CPU: cpu, Text: strings.TrimSpace(cur[body : body+end])})
		at = append(at, [2]int{off + m[0], body + end + len(blockEnd(owner))})
		off = body + end + len(blockEnd(owner))
	}
}

// withoutBlocks is doc with its blocks (and the blank line after each)
// taken out.
func withoutBlocks(doc string) string {
	_, at := findBlocks(doc)
	var b strings.Builder
	prev := 0
	for _, a := range at {
		b.WriteString(doc[prev:a[0]])
		prev = a[1]
		if strings.HasPrefix(doc[prev:], "\n") {
			prev++
		}
	}
	b.WriteString(doc[prev:])
	return b.String()
}

// insertBlock puts a block's text into doc before "## How it was run"
// (so every figure comes before the details of make bench's run), or at
// the end of the part above Earlier runs.
func insertBlock(doc, text string) string {
	cur, earlier, hasEarlier := strings.Cut(doc, earlierHeading)
	if i := strings.Index(cur, howHeading); i >= 0 {
		cur = cur[:i+1] + text + "\n" + cur[i+1:]
	} else {
		cur = strings.TrimRight(cur, "\n") + "\n\n" + text
	}
	if hasEarlier {
		return cur + earlierHeading + earlier
	}
	return cur
}

// addEarlier puts an entry first among doc's Earlier runs, starting that
// section when doc has none.
func addEarlier(doc, entry string) string {
	cur, earlier, ok := strings.Cut(doc, earlierHeading)
	if !ok {
		return strings.TrimRight(doc, "\n") + "\n" + earlierHeading + "\n" + earlierIntro + entry
	}
	if i := strings.Index(earlier, "\n### "); i >= 0 {
		return cur + earlierHeading + earlier[:i+1] + entry + earlier[i+1:]
	}
	return cur + earlierHeading + strings.TrimRight(earlier, "\n") + "\n\n" + entry
}

// PutBlock returns doc with b in place of the block of the same owner.
// When that one ran on another CPU it moves, unmarked, to the head of
// Earlier runs. A block new to doc goes before "## How it was run".
func PutBlock(doc string, b Block) string {
	blocks, at := findBlocks(doc)
	for i, old := range blocks {
		if old.Owner != b.Owner {
			continue
		}
		out := doc[:at[i][0]] + b.String() + doc[at[i][1]:]
		if old.CPU != b.CPU {
			out = addEarlier(out, old.earlier())
		}
		return out
	}
	if strings.TrimSpace(doc) == "" {
		return "# muster benchmarks\n\n" + b.String()
	}
	return insertBlock(doc, b.String())
}

// WriteBlock puts b into the report file at path (see PutBlock),
// creating the file when there is none.
func WriteBlock(path string, b Block) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(path, []byte(PutBlock(string(old), b)), 0o644)
}

// Compose is the file make bench writes: its new report, the blocks of
// the old file that ran on the same CPU, unchanged, and Earlier runs: the
// old report's summary, the old file's blocks from other CPUs, and the
// runs the old file carried.
func Compose(report, old, cpu string) string {
	blocks, _ := findBlocks(old)
	doc := report
	var moved []string
	for _, b := range blocks {
		if b.CPU == cpu {
			doc = insertBlock(doc, b.String())
		} else {
			moved = append(moved, b.earlier())
		}
	}
	return doc + CarryEarlier(withoutBlocks(old), moved...)
}

// ranOn says when and on what a separately written block was measured,
// and where its Redis was.
func ranOn(date time.Time, m Machine, loadEnd, redisURL string) string {
	shared := "the benchmark's client, the fakes and `muster serve` share the CPUs"
	if h := redisHost(redisURL); h == "127.0.0.1" || h == "localhost" || h == "::1" {
		shared = "the benchmark's client, the fakes, `muster serve` and Redis share the CPUs"
	}
	return fmt.Sprintf("Ran on %s on %s (%s, %s), %s at %s; load average (1, 5, 15 min) %s at the start, %s at the end; %s.",
		date.UTC().Format("2006-01-02 15:04 MST"), m.CPUName(), m.MemTotal, m.Go, m.Redis, redactURL(redisURL), m.LoadAvg, loadEnd, shared)
}

// redisHost is the host of a Redis URL ("" when it has none).
func redisHost(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return parsed.Hostname()
}

// Goals of the live board (make bench-board) and the roll call at scale
// (make bench-rollcall, issue 15).
const (
	GoalBoardP99         = time.Second           // a change reaches every board, p99
	GoalBoardRSSBytes    = 60e6                  // muster serve with the boards connected, bytes
	GoalRollCallCommand  = 3 * time.Second       // /rollcall start answered (Slack's limit)
	GoalRollCallFirst    = time.Second           // everyone's first message queued after the command
	GoalRollCallAnswer   = 50 * time.Millisecond // an answer's arrival to its record, p99
	GoalRollCallEditsPer = 1                     // tally card edits in any second, per card
)

// BoardRun is what TestBoardsAtScale measured.
type BoardRun struct {
	Date    time.Time
	Machine Machine
	LoadEnd string
	// RedisURL is the Redis it ran on (MUSTER_TEST_REDIS_URL).
	RedisURL string
	// Boards event streams were open while Changes incidents were raised;
	// P50...Max are from each raise to its arrival on each board.
	Boards, Changes int
	P50, P99, Max   time.Duration
	// RSS of muster serve: idle, with the boards connected, after the
	// changes, and its peak.
	Idle, WithBoards, After, Peak int64
}

// Block is the run's part of the report.
func (r BoardRun) Block() Block {
	var b strings.Builder
	b.WriteString("## The live board (`make bench-board`)\n\n")
	fmt.Fprintf(&b, "`TestBoardsAtScale` (internal/benchreport) builds muster, starts `muster serve` on the Redis of `MUSTER_TEST_REDIS_URL`, opens %s `/board/events` streams with a wall display's token and raises %d incidents one after another, timing each change from its raise to its arrival on every board.\n\n",
		thousands(r.Boards), r.Changes)
	rssOK := func(v int64) string { return metStr(float64(v) < GoalBoardRSSBytes) }
	table(&b, []row{
		{fmt.Sprintf("a change on every one of %s boards, p99 (%s deliveries)", thousands(r.Boards), thousands(r.Boards*r.Changes)), durFmt(r.P99), "≤ 1 s", metStr(r.P99 <= GoalBoardP99),
			fmt.Sprintf("p50 %s, max %s", durFmt(r.P50), durFmt(r.Max))},
		{fmt.Sprintf("RSS of `muster serve` with %s boards connected", thousands(r.Boards)), MB(r.WithBoards), "< 60 MB", rssOK(r.WithBoards), "idle " + MB(r.Idle)},
		{"RSS of `muster serve` after the changes", MB(r.After), "< 60 MB", rssOK(r.After), "peak (VmHWM) " + MB(r.Peak)},
	})
	b.WriteString(ranOn(r.Date, r.Machine, r.LoadEnd, r.RedisURL) + " `MUSTER_BENCH_BOARDS_N` and `MUSTER_BENCH_BOARD_CHANGES` change the counts.\n")
	return Block{Owner: "bench-board", CPU: r.Machine.CPUName(), Text: strings.TrimSpace(b.String())}
}

// RollCallRun is what TestRollCallAtScale measured.
type RollCallRun struct {
	Date    time.Time
	Machine Machine
	LoadEnd string
	// RedisURL is the Redis it ran on (MUSTER_TEST_REDIS_URL).
	RedisURL string
	// People were on duty; Command is /rollcall start's answer time;
	// First* are from the command's send to each person's first message
	// queued.
	People                       int
	Command                      time.Duration
	FirstAll, FirstP50, FirstP99 time.Duration
	// Answers SMS SAFE were sent at Rate a second; P50...Max from each
	// one's send to its answer; Failed were not answered 200; Recorded
	// counts the roll call's safe answers afterwards.
	Answers       int
	Rate          float64
	P50, P99, Max time.Duration
	Failed        int
	Recorded      int64
	// Edits of the tally cards on Cards cards; MostInASecond the most
	// edits of one card within any second.
	Edits, Cards, MostInASecond int
}

// Block is the run's part of the report.
func (r RollCallRun) Block() Block {
	var b strings.Builder
	b.WriteString("## Roll call at scale (`make bench-rollcall`)\n\n")
	fmt.Fprintf(&b, "`TestRollCallAtScale` (internal/benchreport) builds muster, starts `muster serve` on the Redis of `MUSTER_TEST_REDIS_URL` with the example config plus %s people each on duty at Harbour Point HQ, sends the supervisor's `/rollcall start @harbour` as a signed Slack command, waits for every person's first message to be queued (the first step of each question, which the start script queues with the roll call, timed by its audit event's stream id), then sends %s signed Twilio SMS `SAFE` webhooks from their phones at %s a second, open loop, timing each webhook's answer (written once the answer is recorded), and counts the tally card edits on the fake Slack. Goals of issue 15.\n\n",
		thousands(r.People), thousands(r.Answers), trimFloat(r.Rate))
	table(&b, []row{
		{fmt.Sprintf("`/rollcall start` of %s: the command's answer", thousands(r.People)), durFmt(r.Command), "≤ 3 s (Slack's limit)", metStr(r.Command <= GoalRollCallCommand), ""},
		{"first message of everyone queued, after the command", durFmt(r.FirstAll), "≤ 1 s", metStr(r.FirstAll <= GoalRollCallFirst),
			fmt.Sprintf("p50 %s, p99 %s", durFmt(r.FirstP50), durFmt(r.FirstP99))},
		{fmt.Sprintf("SMS answer to its record, p99 (%s at %s a second)", thousands(r.Answers), trimFloat(r.Rate)), durFmt(r.P99), "≤ 50 ms", metStr(r.P99 <= GoalRollCallAnswer),
			fmt.Sprintf("p50 %s, max %s", durFmt(r.P50), durFmt(r.Max))},
		{"answers not taken (not 200: shed, Twilio sends them again)", fmt.Sprintf("%s of %s", thousands(r.Failed), thousands(r.Answers)), "0", metStr(r.Failed == 0),
			fmt.Sprintf("%s recorded safe", thousands(int(r.Recorded)))},
		{"tally card edits, most in any second on one card", fmt.Sprint(r.MostInASecond), "≤ 1", metStr(r.MostInASecond <= GoalRollCallEditsPer),
			fmt.Sprintf("%d edits on %d cards", r.Edits, r.Cards)},
	})
	b.WriteString(ranOn(r.Date, r.Machine, r.LoadEnd, r.RedisURL) + " `MUSTER_BENCH_ROLLCALL_PEOPLE`, `MUSTER_BENCH_ROLLCALL_RATE` and `MUSTER_BENCH_ROLLCALL_ANSWERS` change the counts.\n")
	return Block{Owner: "bench-rollcall", CPU: r.Machine.CPUName(), Text: strings.TrimSpace(b.String())}
}
