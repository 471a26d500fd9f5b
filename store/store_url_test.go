package store

import "testing"

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
