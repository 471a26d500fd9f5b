package report_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/report"
	"github.com/muster-ops/muster/store"
)

func runCLI(t *testing.T, h *scenario.Harness, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := report.RunCLI(context.Background(), args, h.Config, h.Store, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIOnAScriptedMonth(t *testing.T) {
	h := playMonth(t)
	dir := t.TempDir()
	// A delivery report, as Twilio's status callback records it.
	if _, err := h.Store.AppendAudit(context.Background(), "delivery.failed", "twilio", "T-5",
		map[string]any{"channel": "sms", "to": "hugo", "status": "undelivered", "code": "30003"}); err != nil {
		t.Fatal(err)
	}
	h.Settle() // seals, as a serve process does within a second
	expect := func(code int, wantCode int, out string, fragments ...string) {
		t.Helper()
		if code != wantCode {
			t.Fatalf("exit %d, want %d; output:\n%s", code, wantCode, out)
		}
		for _, f := range fragments {
			if !strings.Contains(out, f) {
				t.Fatalf("output lacks %q:\n%s", f, out)
			}
		}
	}

	code, out, _ := runCLI(t, h, "audit", "verify")
	expect(code, 0, out, "ok ")
	events := strings.Fields(out)[1]

	// Export, then verify the export on its own.
	jsonl := filepath.Join(dir, "audit.jsonl")
	code, out, _ = runCLI(t, h, "audit", "export", "--format", "jsonl", "--out", jsonl)
	expect(code, 0, out)
	code, out, _ = runCLI(t, h, "audit", "verify", "--file", jsonl)
	expect(code, 0, out, "ok "+events+" events")
	code, out, _ = runCLI(t, h, "audit", "export", "--from", "2026-02-12", "--to", "2026-02-12", "--format", "csv")
	expect(code, 0, out, "seq,id,time,at_ms,kind,actor,subject,data,prev,hash\n", "incident.raised,amara,INC-6,")
	if strings.Contains(out, "INC-5") || strings.Contains(out, "INC-7") {
		t.Fatalf("a one-day export has events of other days:\n%s", out)
	}

	code, out, _ = runCLI(t, h, "report", "incident", "INC-6")
	expect(code, 0, out, "# Incident report INC-6", "- **Time to acknowledge:** 3m0s", "- **Time to resolve:** 45m0s", "| T-5 | sms | Hugo Brennan | delivery.failed undelivered 30003 |",
		"| T-5 | Call an ambulance and send the location | control | Hugo Brennan | acknowledged | Farid Haddad | 4m0s | 2 | chat+sms+voice | Hugo Brennan |")
	code, out, _ = runCLI(t, h, "report", "activation", "A-2", "--format", "html")
	expect(code, 0, out, "<!DOCTYPE html>", "<h1>Activation report A-2: Medical emergency</h1>")
	code, out, _ = runCLI(t, h, "report", "drill", "D-1")
	expect(code, 0, out, "- **Result:** PASS", "| T-1 | Sweep floors and confirm they are clear | Amara Okafor | Amara Okafor | 1m30s | yes | 1 | chat+sms+voice | - |",
		"| CA-5 | Mark the sweep route on the floor plans | Jonah Reid | 2026-02-10 10:20:00 GMT | 2026-03-12 | done | 2026-02-16 09:00:00 GMT by Jonah Reid: Floor plans updated | not verified |")
	code, out, _ = runCLI(t, h, "report", "review", "--from", "2026-02-01", "--to", "2026-02-28", "--site", "@depot", "--format", "csv")
	expect(code, 0, out, "Incidents,facts,Incidents raised,4\n")
	for _, bad := range [][]string{{"report", "review", "--from", "2026-02-01"}, {"report", "incident"}, {"report", "drill", "X-1"},
		{"audit", "frobnicate"}, {"report", "review", "--from", "2026-02-01", "--to", "2026-02-28", "--site", "moon"}} {
		if code, _, errOut := runCLI(t, h, bad...); code != 2 || !strings.Contains(errOut, "Usage:") {
			t.Fatalf("%v: exit %d, want 2 with usage; %s", bad, code, errOut)
		}
	}
	if code, _, errOut := runCLI(t, h, "report", "incident", "INC-99"); code != 1 || !strings.Contains(errOut, "INC-99: not found") {
		t.Fatalf("missing incident: exit %d: %s", code, errOut)
	}

	// Retention of 20 days on 2 Mar 10:00: incidents resolved before 10 Feb
	// 10:00 go (INC-1, 4, 5), with CA-1 (done 4 Feb, verified 6 Feb); INC-2
	// stays, its CA-4 was verified after the cut-off (26 Feb); INC-3 is on
	// legal hold: it stays, and the audit prefix stops at its first event,
	// so only the twenty events before it go: INC-1's three and the post
	// each made to its site (message.sent), CA-1's, CA-2's and CA-3's
	// records and the chat each sent its owner, INC-2's three and their
	// posts, CA-4's record and its chat to Ben (seq 1-20).
	h.Config.Records.Retention = configs.Duration(20 * 24 * time.Hour)
	if _, err := h.Store.ChangeIncident(context.Background(), 3, "jonah", store.ActionHold, "claim"); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, h, "records", "prune", "--dry-run")
	expect(code, 0, out, "would remove 3 incidents, 0 activations, 0 tasks, 0 drills, 1 corrective actions and 20 audit events", "kept on legal hold: INC-3")
	pruned := filepath.Join(dir, "pruned.jsonl")
	code, out, _ = runCLI(t, h, "records", "prune", "--out", pruned)
	expect(code, 0, out, "removed 3 incidents", "export: "+pruned+" (sha256 ", "audit checkpoint: seq 1 to 20 pruned")
	data, err := os.ReadFile(pruned)
	if err != nil || strings.Count(string(data), "\n") != 3+1+20 || !strings.Contains(string(data), "Tools found in the van") {
		t.Fatalf("prune export (%v):\n%s", err, data)
	}
	code, out, _ = runCLI(t, h, "audit", "verify")
	expect(code, 0, out, "ok ", "seq 1 to 20 pruned under retention (checkpointed)")
	code, out, _ = runCLI(t, h, "audit", "verify", "--file", pruned)
	expect(code, 0, out, "ok 20 events")
	if _, err := h.Store.Incident(context.Background(), 1); err == nil {
		t.Fatal("INC-1 is still there after the prune")
	}
	if _, err := h.Store.Incident(context.Background(), 2); err != nil {
		t.Fatalf("INC-2, whose action was verified after the cut-off, went: %v", err)
	}

	// Change one field of one event directly in Redis: verify names it.
	ctx := context.Background()
	key := h.Store.Key("audit")
	msgs, err := h.Store.Client().XRange(ctx, key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Store.Client().Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if i == 3 {
			m.Values["actor"] = "someone-else"
		}
		vals := []any{}
		for _, f := range []string{"at", "kind", "actor", "subject", "data"} {
			vals = append(vals, f, m.Values[f])
		}
		if err := h.Store.Client().XAdd(ctx, &redis.XAddArgs{Stream: key, ID: m.ID, Values: vals}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ = runCLI(t, h, "audit", "verify")
	expect(code, 1, out, "FAIL: event seq 24 (stream id "+msgs[3].ID+", ", ") was changed: its content does not match what was sealed")
}
