package discord

import (
	"net/http"
	"testing"
)

type seen struct{ url string }

func (s *seen) RoundTrip(r *http.Request) (*http.Response, error) {
	s.url = r.URL.String()
	return &http.Response{StatusCode: 204, Body: http.NoBody, Request: r}, nil
}

func TestAPIURLRewrite(t *testing.T) {
	tests := []struct{ api, in, want string }{
		{"http://127.0.0.1:9001", "https://discord.com/api/v9/channels/1/messages", "http://127.0.0.1:9001/api/v9/channels/1/messages"},
		{"http://127.0.0.1:9001/", "https://discord.com/api/v9/users/@me", "http://127.0.0.1:9001/api/v9/users/@me"},
		{"http://proxy:8080/discord/api/v10/", "https://discord.com/api/v9/channels/1/messages?x=1", "http://proxy:8080/discord/api/v9/channels/1/messages?x=1"},
		{"https://proxy/api", "https://discord.com/api/v9/gateway", "https://proxy/api/v9/gateway"},
		{"http://127.0.0.1:9001", "https://cdn.discordapp.com/a.png", "https://cdn.discordapp.com/a.png"},
	}
	for _, tt := range tests {
		s := &seen{}
		c, err := restClient(&http.Client{Transport: s}, tt.api)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, tt.in, nil)
		if _, err := c.Do(req); err != nil {
			t.Fatal(err)
		}
		if s.url != tt.want {
			t.Errorf("%s with api_url %s went to %s, want %s", tt.in, tt.api, s.url, tt.want)
		}
	}
	for _, bad := range []string{"ftp://x", "127.0.0.1:9001", "http://"} {
		if _, err := restClient(nil, bad); err == nil {
			t.Errorf("api_url %q accepted", bad)
		}
	}
}
