package faketwilio

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Page sizes of the list resources, as Twilio's: 50 by default, 1000 at most.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// handleListMessages answers GET /Messages.json as Twilio's "Read multiple Message resources":
// the account's messages, newest first, filtered by To, From and the date_sent filters DateSent
// (that day), DateSent< (on or before) and DateSent> (on or after), in pages of PageSize (Page
// counts from 0; PageToken is accepted and ignored). Dates are GMT days, YYYY-MM-DD, or a
// timestamp whose day counts (twilio-go sends RFC 3339). A message not yet sent (queued,
// accepted) has no date_sent, so a date filter never matches it, as on Twilio.
func (s *Server) handleListMessages(w http.ResponseWriter, r *http.Request) {
	if !s.checkAccount(w, r) {
		return
	}
	q := r.URL.Query()
	size, page := defaultPageSize, 0
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, CodeInvalidParameter, "Invalid PageSize: "+v)
			return
		}
		size = min(n, maxPageSize)
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, CodeInvalidParameter, "Invalid Page: "+v)
			return
		}
		page = n
	}
	type dateFilter struct {
		param string
		keep  func(sent, day time.Time) bool
	}
	var keep []func(Message) bool
	for _, f := range []dateFilter{
		{"DateSent", func(sent, day time.Time) bool { return !sent.Before(day) && sent.Before(day.AddDate(0, 0, 1)) }},
		{"DateSent<", func(sent, day time.Time) bool { return sent.Before(day.AddDate(0, 0, 1)) }},
		{"DateSent>", func(sent, day time.Time) bool { return !sent.Before(day) }},
	} {
		v := q.Get(f.param)
		if v == "" {
			continue
		}
		day, ok := parseDay(v)
		if !ok {
			writeError(w, http.StatusBadRequest, CodeInvalidParameter, fmt.Sprintf("Invalid %s: %s", f.param, v))
			return
		}
		keep = append(keep, func(m Message) bool { return !m.DateSent.IsZero() && f.keep(m.DateSent.UTC(), day) })
	}
	to, from := q.Get("To"), q.Get("From")
	var all []Message
	for _, m := range s.Messages() {
		if (to != "" && m.To != to) || (from != "" && m.From != from) || m.AccountSID != r.PathValue("sid") {
			continue
		}
		ok := true
		for _, k := range keep {
			ok = ok && k(m)
		}
		if ok {
			all = append(all, m)
		}
	}
	// Newest first; the SID sequence breaks ties within a second.
	slices.Reverse(all)
	slices.SortStableFunc(all, func(a, b Message) int { return cmp.Compare(b.Received.Unix(), a.Received.Unix()) })

	path := r.URL.Path
	pageURI := func(p int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "Page" && k != "PageToken" && k != "PageSize" {
				v[k] = vs
			}
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(p))
		if p > 0 {
			v.Set("PageToken", fmt.Sprintf("PA%d", p))
		}
		return path + "?" + v.Encode()
	}
	start := min(page*size, len(all))
	end := min(start+size, len(all))
	msgs := make([]map[string]any, 0, end-start)
	for _, m := range all[start:end] {
		msgs = append(msgs, messageJSON(m))
	}
	var next, prev any
	if end < len(all) {
		next = pageURI(page + 1)
	}
	if page > 0 {
		prev = pageURI(page - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"end":               max(end-1, start),
		"first_page_uri":    pageURI(0),
		"messages":          msgs,
		"next_page_uri":     next,
		"page":              page,
		"page_size":         size,
		"previous_page_uri": prev,
		"start":             start,
		"uri":               pageURI(page),
	})
}

// parseDay reads a GMT day from YYYY-MM-DD or from a timestamp that starts with one.
func parseDay(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if len(v) < len("2006-01-02") {
		return time.Time{}, false
	}
	day, err := time.Parse("2006-01-02", v[:len("2006-01-02")])
	return day, err == nil
}
