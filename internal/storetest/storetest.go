// Package storetest opens a store for tests: the real Redis named by
// MUSTER_TEST_REDIS_URL when set (CI sets it), else the embedded server.
// Each store gets its own namespace and its keys are removed afterwards.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/muster-ops/muster/store"
)

// EnvURL names the variable that points tests at a real Redis.
const EnvURL = "MUSTER_TEST_REDIS_URL"

// URL is the test Redis URL, or "" for the embedded server.
func URL() string { return os.Getenv(EnvURL) }

// Namespace returns a fresh namespace for one test.
func Namespace() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

// Open opens a store in a fresh namespace; now may be nil for time.Now.
func Open(t testing.TB, now func() time.Time) *store.Store {
	t.Helper()
	return OpenNamespace(t, Namespace(), now)
}

// OpenNamespace opens a store in a given namespace, so a test can open a
// second "process" onto the same records. Only the first opener of a
// namespace should clean it up; this one always does, which is harmless.
func OpenNamespace(t testing.TB, ns string, now func() time.Time) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := store.Open(ctx, store.Options{URL: URL(), Namespace: ns, Now: now})
	if err != nil {
		t.Fatalf("open test store (%s=%q): %v", EnvURL, URL(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.DeleteAll(ctx); err != nil {
			t.Errorf("clean up namespace %s: %v", ns, err)
		}
		_ = s.Close()
	})
	return s
}

// Seal seals every audit event appended so far (unsigned), as a running
// `muster serve` would within a second, and returns how many it sealed.
func Seal(t testing.TB, st *store.Store) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := st.NewAuditSealer(nil, "").Seal(ctx)
	if err != nil {
		t.Fatalf("seal the audit chain: %v", err)
	}
	return n
}

// SealAndVerify seals what was appended and verifies the whole chain,
// failing the test when it cannot read it; the caller checks OK().
func SealAndVerify(t testing.TB, st *store.Store) *store.AuditVerification {
	t.Helper()
	Seal(t, st)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := st.VerifyAudit(ctx, store.VerifyOptions{})
	if err != nil {
		t.Fatalf("verify the audit chain: %v", err)
	}
	return v
}
