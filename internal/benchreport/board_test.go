package benchreport

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// TestBoardsAtScale measures the live board under a control room's load:
// Boards (default 200) event streams open on one muster serve at once,
// Changes (default 30) incidents raised one after another; each change
// must reach every board within 1 s at the 99th percentile, and muster
// serve must stay under 60 MB RSS with them connected. It builds and
// runs the real binary against MUSTER_TEST_REDIS_URL, so it runs only
// when asked: MUSTER_BENCH_BOARDS=1 (make bench-board, which also sets
// MUSTER_BENCH_OUT so the figures go into docs/BENCHMARKS.md).
func TestBoardsAtScale(t *testing.T) {
	if os.Getenv("MUSTER_BENCH_BOARDS") == "" {
		t.Skip("skipped: MUSTER_BENCH_BOARDS=1 (with MUSTER_TEST_REDIS_URL) measures 200 boards against muster serve; make bench-board runs it")
	}
	url := storetest.URL()
	if url == "" {
		t.Skip("skipped: the board benchmark needs a real Redis (MUSTER_TEST_REDIS_URL)")
	}
	boards := envInt("MUSTER_BENCH_BOARDS_N", 200)
	changes := envInt("MUSTER_BENCH_BOARD_CHANGES", 30)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin, err := BuildMuster(ctx, "go", "../..", tmp)
	if err != nil {
		t.Fatal(err)
	}
	const token = "bench-board-display-token"
	t.Setenv("MUSTER_BOARD_CONTROL_ROOM", token)
	s, st, _, stop, err := startExample(ctx, bin, url, tmp, "http://127.0.0.1:9/api/", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	run := BoardRun{Date: time.Now(), Machine: ReadMachine(ctx, "go", st.Client()), RedisURL: url, Boards: boards, Changes: changes}
	run.Idle, _, err = s.RSS()
	if err != nil {
		t.Fatal(err)
	}

	// got[k][i] is when board i saw change k.
	var mu sync.Mutex
	got := make([][]time.Time, changes)
	for k := range got {
		got[k] = make([]time.Time, boards)
	}
	connected := make(chan struct{}, boards)
	arrived := make(chan int, boards*changes)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: boards, MaxConnsPerHost: 0}}
	for i := range boards {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/board/events", nil)
		req.AddCookie(&http.Cookie{Name: "muster_display", Value: token})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("board %d: %v", i, err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("board %d: %s", i, resp.Status)
		}
		go func() {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 4<<20)
			first := true
			for sc.Scan() {
				line := sc.Text()
				if line == "" && first {
					first = false
					connected <- struct{}{}
				}
				for rest := line; ; {
					j := strings.Index(rest, "bench-change-")
					if j < 0 {
						break
					}
					rest = rest[j+len("bench-change-"):]
					end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
					if end < 0 {
						end = len(rest)
					}
					if k, err := strconv.Atoi(rest[:end]); err == nil && k < changes {
						mu.Lock()
						fresh := got[k][i].IsZero()
						if fresh {
							got[k][i] = time.Now()
						}
						mu.Unlock()
						if fresh {
							arrived <- k
						}
					}
				}
			}
		}()
	}
	for range boards {
		select {
		case <-connected:
		case <-ctx.Done():
			t.Fatal("boards did not all connect")
		}
	}
	run.WithBoards, _, err = s.RSS()
	if err != nil {
		t.Fatal(err)
	}

	var lat []time.Duration
	for k := range changes {
		at := time.Now()
		if _, err := st.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "other", Severity: "sev3", Reporter: "amara",
			Text: fmt.Sprintf("bench-change-%d", k)}); err != nil {
			t.Fatal(err)
		}
		timeout := time.NewTimer(10 * time.Second)
		for n := 0; n < boards; {
			select {
			case j := <-arrived:
				if j == k {
					n++
				}
			case <-timeout.C:
				t.Fatalf("change %d reached %d of %d boards in 10s", k, n, boards)
			}
		}
		timeout.Stop()
		mu.Lock()
		for _, g := range got[k] {
			lat = append(lat, g.Sub(at))
		}
		mu.Unlock()
	}
	run.After, run.Peak, err = s.RSS()
	if err != nil {
		t.Fatal(err)
	}
	run.LoadEnd = LoadAvg()
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	run.P50, run.P99, run.Max = p(0.50), p(0.99), lat[len(lat)-1]
	recordBlock(t, run.Block())
	if run.P99 > GoalBoardP99 {
		t.Errorf("p99 %s from a change to every board, want within 1s", run.P99)
	}
	if float64(max(run.After, run.WithBoards)) >= GoalBoardRSSBytes {
		t.Errorf("muster serve RSS %s with %d boards, want under 60 MB", MB(max(run.After, run.WithBoards)), boards)
	}
}

// recordBlock prints a separately measured block and, when
// MUSTER_BENCH_OUT names the report (make bench-board and make
// bench-rollcall set it to docs/BENCHMARKS.md), puts it there.
func recordBlock(t *testing.T, b Block) {
	t.Helper()
	t.Logf("every goal beside its figure:\n\n%s", b.Text)
	path := os.Getenv("MUSTER_BENCH_OUT")
	if path == "" {
		return
	}
	if err := WriteBlock(path, b); err != nil {
		t.Errorf("write the figures into %s: %v", path, err)
		return
	}
	t.Logf("wrote the figures into %s", path)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
