package discord

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// discordHost is the host discordgo builds every REST URL on.
const discordHost = "discord.com"

// apiSuffix matches a trailing /api or /api/vN of a configured api_url:
// discordgo's paths already start with /api/v9/.
var apiSuffix = regexp.MustCompile(`/api(/v[0-9]+)?$`)

// rewrite sends every request for discord.com to base instead, keeping
// the path (after base's own path prefix) and query. discordgo builds its
// URLs from package variables fixed at initialisation; rewriting in the
// transport changes them for this session only.
type rewrite struct {
	scheme, host, prefix string
	next                 http.RoundTripper
}

// RoundTrip rewrites r and passes it on.
func (rt rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != discordHost {
		return rt.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rt.scheme, rt.host, ""
	r.URL.Path = rt.prefix + r.URL.Path
	r.URL.RawPath = ""
	return rt.next.RoundTrip(r)
}

// restClient returns the client for REST calls: base (or a default with a
// timeout), with its transport rewritten to apiURL when one is set.
// apiURL may be "http://host:port", or end in /api or /api/v10.
func restClient(base *http.Client, apiURL string) (*http.Client, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	if base != nil {
		cp := *base
		c = &cp
	}
	if apiURL == "" {
		return c, nil
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("discord.api_url %q: want http(s)://host[:port][/path]", apiURL)
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	prefix := apiSuffix.ReplaceAllString(strings.TrimRight(u.Path, "/"), "")
	c.Transport = rewrite{scheme: u.Scheme, host: u.Host, prefix: prefix, next: next}
	return c, nil
}
