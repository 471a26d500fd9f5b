package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/muster-ops/muster/store"
)

// OpenURL opens a store on the Redis at url (a single server, a Sentinel
// or a Cluster URL, as store.NewClient takes) instead of the one named by
// MUSTER_TEST_REDIS_URL. ns is the namespace, a fresh one when empty. The
// namespace's keys are removed when the test ends; a failure to remove
// them fails the test.
func OpenURL(t testing.TB, url, ns string, now func() time.Time) *store.Store {
	t.Helper()
	if ns == "" {
		ns = Namespace()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := store.Open(ctx, store.Options{URL: url, Namespace: ns, Now: now})
	if err != nil {
		t.Fatalf("open test store on %s: %v", url, err)
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

// WithURL points every store opened by Open and OpenNamespace (and so the
// end-to-end harness) at url for the rest of the test, as if
// MUSTER_TEST_REDIS_URL were url. Like t.Setenv, it cannot be used in
// parallel tests.
func WithURL(t testing.TB, url string) {
	t.Helper()
	t.Setenv(EnvURL, url)
}

// OpenPeer opens a second handle onto s's namespace on s's Redis, as
// another replica would; with the embedded server it dials s's server
// (OpenNamespace would start a separate one). s's opener removes the keys;
// the peer only closes its connection.
func OpenPeer(t testing.TB, s *store.Store, now func() time.Time) *store.Store {
	t.Helper()
	url := URL()
	if s.Embedded() {
		url = "redis://" + s.Addr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := store.Open(ctx, store.Options{URL: url, Namespace: s.Namespace(), Now: now})
	if err != nil {
		t.Fatalf("open peer store on %s: %v", url, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}
