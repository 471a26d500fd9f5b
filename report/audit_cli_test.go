package report_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/store"
)

// auditSeed is the signing seed these tests put in MUSTER_AUDIT_KEY.
var auditSeed = strings.Repeat("7c", 32)

// signedHarness runs a short drill-like history and seals it with the
// key of auditSeed, writing a seal log; it returns the harness, the
// public key and the seal log's path.
func signedHarness(t *testing.T) (*scenario.Harness, string, string) {
	t.Helper()
	key, err := store.ParseAuditKey(auditSeed)
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "seal.log")
	h := scenario.NewWith(t, scenario.Options{AuditKey: key, SealLog: log})
	h.As("jonah").MustDo("/incident raise intrusion sev2 @harbour Fence cut near gate B")
	h.As("jonah").MustDo("/plan trigger fire-evacuation @harbour")
	h.Settle()
	h.As("amara").MustDo("/ack")
	h.Settle()
	return h, key.PublicHex(), log
}

func TestAuditPublicKeyPrintsTheKeyFromTheEnvironment(t *testing.T) {
	h := scenario.New(t)
	t.Setenv("MUSTER_AUDIT_KEY", "")
	if code, _, errOut := runCLI(t, h, "audit", "public-key"); code != 2 || !strings.Contains(errOut, "MUSTER_AUDIT_KEY is not set") {
		t.Fatalf("no key: exit %d, %q; want 2 naming the variable", code, errOut)
	}
	t.Setenv("MUSTER_AUDIT_KEY", "not hex at all")
	if code, _, errOut := runCLI(t, h, "audit", "public-key"); code != 1 || !strings.Contains(errOut, "64 hex digits") || strings.Contains(errOut, "not hex at all") {
		t.Fatalf("bad key: exit %d, %q; want 1, saying the form and not repeating the value", code, errOut)
	}
	t.Setenv("MUSTER_AUDIT_KEY", auditSeed)
	seed, _ := hex.DecodeString(auditSeed)
	want := hex.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	if code, out, _ := runCLI(t, h, "audit", "public-key"); code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("exit %d, %q; want %s", code, out, want)
	}
}

// The test: a forged event appended and the head moved over it
// by direct Redis writes makes `muster audit verify --public-key` exit 1
// naming the event; the untouched store verifies, with and without the
// seal log.
func TestAuditVerifyPublicKeyCatchesAForgedAppend(t *testing.T) {
	h, pub, log := signedHarness(t)
	t.Setenv("MUSTER_AUDIT_KEY", "")
	code, out, _ := runCLI(t, h, "audit", "verify", "--public-key", pub, "--seal-log", log)
	if code != 0 || !strings.Contains(out, "signed: every head checked against the public key "+pub) || !strings.Contains(out, " heads found in the chain") {
		t.Fatalf("untouched: exit %d\n%s", code, out)
	}
	ctx := context.Background()
	head, err := h.Store.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The forger's event, hashed as the chain wants, and the head moved.
	last := store.AuditEvent{}
	if err := h.Store.ScanAudit(ctx, "", func(e store.AuditEvent) error { last = e; return nil }); err != nil {
		t.Fatal(err)
	}
	forged := store.AuditEvent{AtMS: last.AtMS, Kind: "task.ack", Actor: "ben", Subject: "T-2", Data: `{"note":""}`,
		Seq: head.Seq + 1, SeqRaw: fmt.Sprint(head.Seq + 1), Prev: head.Hash}
	id, err := h.Store.Client().XAdd(ctx, &redis.XAddArgs{Stream: h.Store.Key("audit"),
		Values: []any{"at", forged.AtMS, "kind", forged.Kind, "actor", forged.Actor, "subject", forged.Subject, "data", forged.Data}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Store.Client().HSet(ctx, h.Store.Key("audit:head"), "seq", forged.Seq, "hash", forged.ComputeHash(), "id", id).Err(); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, h, "audit", "verify", "--public-key", pub)
	want := fmt.Sprintf("FAIL: event seq %d (stream id %s, task.ack T-2) was inserted: the head at seq %d that covers it is not signed by the given key", forged.Seq, id, forged.Seq)
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("forged: exit %d\n%s\nwant exit 1 and %q", code, out, want)
	}
	// The key from the environment does the same.
	t.Setenv("MUSTER_AUDIT_KEY", auditSeed)
	if code, out, _ := runCLI(t, h, "audit", "verify"); code != 1 || !strings.Contains(out, want) {
		t.Fatalf("forged, key from the environment: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, h, "audit", "verify", "--public-key", "abc"); code != 2 || !strings.Contains(errOut, "64 hex digits") {
		t.Fatalf("bad --public-key: exit %d %s", code, errOut)
	}
}

// Without a key the chain is sealed unsigned, and verify says so.
func TestAuditVerifySaysUnsignedChain(t *testing.T) {
	h := scenario.New(t)
	t.Setenv("MUSTER_AUDIT_KEY", "")
	h.As("jonah").MustDo("/incident raise intrusion sev2 @harbour Fence cut near gate B")
	h.Settle()
	code, out, _ := runCLI(t, h, "audit", "verify")
	if code != 0 || !strings.Contains(out, "unsigned chain") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// Asked to check a key, an unsigned chain fails.
	key, _ := store.ParseAuditKey(auditSeed)
	code, out, _ = runCLI(t, h, "audit", "verify", "--public-key", key.PublicHex())
	if code != 1 || !strings.Contains(out, "event seq 1 ") || !strings.Contains(out, "is not signed") {
		t.Fatalf("unsigned, checked against a key: exit %d\n%s", code, out)
	}
}

// A seal log that names heads the chain no longer has catches a stream
// cut short with its head moved back.
func TestAuditVerifySealLogCatchesATruncatedStream(t *testing.T) {
	h, pub, log := signedHarness(t)
	t.Setenv("MUSTER_AUDIT_KEY", auditSeed)
	ctx := context.Background()
	before, err := h.Store.Client().HGetAll(ctx, h.Store.Key("audit:head")).Result()
	if err != nil {
		t.Fatal(err)
	}
	h.As("jonah").MustDo("/incident raise theft sev3 @depot Van broken into")
	h.Settle()
	// Cut the last event and put the earlier (genuinely signed) head back.
	msgs, _ := h.Store.Client().XRange(ctx, h.Store.Key("audit"), "-", "+").Result()
	h.Store.Client().XDel(ctx, h.Store.Key("audit"), msgs[len(msgs)-1].ID)
	seals, _ := h.Store.Client().XRange(ctx, h.Store.Key("audit:seals"), "-", "+").Result()
	h.Store.Client().XDel(ctx, h.Store.Key("audit:seals"), seals[len(seals)-1].ID)
	h.Store.Client().HSet(ctx, h.Store.Key("audit:head"), before)
	if code, out, _ := runCLI(t, h, "audit", "verify", "--public-key", pub); code != 0 {
		t.Fatalf("without the seal log: exit %d\n%s", code, out)
	}
	code, out, _ := runCLI(t, h, "audit", "verify", "--public-key", pub, "--seal-log", log)
	if code != 1 || !strings.Contains(out, "FAIL: event seq") || !strings.Contains(out, "was removed: the seal log records seq") {
		t.Fatalf("with the seal log: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(log); err != nil {
		t.Fatal(err)
	}
}
