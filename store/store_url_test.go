package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestNewClientURLForms(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"redis://127.0.0.1:6379/9", true},
		{"rediss://127.0.0.1:6380/0", true},
		{"redis://127.0.0.1:26379?master_name=mymaster", true},
		{"redis://127.0.0.1:26379?master_name=mymaster&wait_replicas=1", true},
		{"redis://127.0.0.1:6379/0?wait_replicas=1", true},
		{"redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002", true},
		{"redis://127.0.0.1:7000?cluster=true", true},
		{"redis://127.0.0.1:7000?cluster=true&wait_replicas=1", false},
		{"redis://127.0.0.1:6379/0?wait_replicas=x", false},
		{"http://127.0.0.1:6379", false},
		{"::", false},
	} {
		c, err := NewClient(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("NewClient(%q) error = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if c != nil {
			_ = c.Close()
		}
	}
}

// Passwords in a Redis URL never reach an error message: neither the
// userinfo's nor the password and sentinel_password parameters (a
// Sentinel URL's data-node and Sentinel passwords), whether the URL is
// refused or the server cannot be reached.
func TestRedisURLPasswordsNeverShown(t *testing.T) {
	secrets := []string{"userinfo-secret", "data-node-secret", "sentinel-secret"}
	for _, raw := range []string{
		"redis://admin:userinfo-secret@127.0.0.1:26379?master_name=m&password=data-node-secret&sentinel_password=sentinel-secret&wait_replicas=x",
		"redis://admin:userinfo-secret@127.0.0.1:26379?master_name=m&password=data-node-secret&sentinel_password=sentinel-secret&frobnicate=1",
		"redis://:userinfo-secret@127.0.0.1:7000?addr=127.0.0.1:7001&password=data-node-secret&wait_replicas=1",
		"redis://:userinfo-secret@127.0.0.1:6379/x?password=data-node-secret",
		"redis://:userinfo-secret@127.0.0.1:bad/0?password=data-node-secret",
		"redis://:userinfo-secret@127.0.0.1:1/0?password=data-node-secret",
		"redis://admin:userinfo-secret@127.0.0.1:1?master_name=m&password=data-node-secret&sentinel_password=sentinel-secret",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := Open(ctx, Options{URL: raw, Namespace: "redact"})
		cancel()
		if err == nil {
			_ = st.Close()
			t.Errorf("Open(%s) succeeded, want an error", RedactURL(raw))
			continue
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("Open: error %q shows %s", err, s)
			}
		}
		if shown := RedactURL(raw); strings.Contains(shown, "secret") {
			t.Errorf("RedactURL(...) = %q, shows a password", shown)
		}
	}
	if got, want := RedactURL("redis://u:p@h:26379?master_name=m&password=p2&sentinel_password=p3"),
		"redis://u:xxxxx@h:26379?master_name=m&password=xxxxx&sentinel_password=xxxxx"; got != want {
		t.Errorf("RedactURL = %q, want %q", got, want)
	}
}
