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
	size, page, ok := paging(w, q)
	if !ok {
		return
	}
	sent, ok := dateFilters(w, q, "DateSent")
	if !ok {
		return
	}
	to, from := q.Get("To"), q.Get("From")
	var all []Message
	for _, m := range s.Messages() {
		if (to != "" && m.To != to) || (from != "" && m.From != from) || m.AccountSID != r.PathValue("sid") || !sent(m.DateSent) {
			continue
		}
		all = append(all, m)
	}
	// Newest first; the SID sequence breaks ties within a second.
	slices.Reverse(all)
	slices.SortStableFunc(all, func(a, b Message) int { return cmp.Compare(b.Received.Unix(), a.Received.Unix()) })
	items := make([]map[string]any, len(all))
	for i, m := range all {
		items[i] = messageJSON(m)
	}
	writePage(w, r, "messages", items, size, page)
}

// handleListCalls answers GET /Calls.json as Twilio's "Read multiple Call resources": the
// account's calls, newest first, filtered by To, From, Status and the start_time filters
// StartTime (that day), StartTime< (on or before) and StartTime> (on or after), in pages as
// Messages.json. A call not yet dialed (queued) has no start_time, so a StartTime filter never
// matches it, as on Twilio.
func (s *Server) handleListCalls(w http.ResponseWriter, r *http.Request) {
	if !s.checkAccount(w, r) {
		return
	}
	q := r.URL.Query()
	size, page, ok := paging(w, q)
	if !ok {
		return
	}
	started, ok := dateFilters(w, q, "StartTime")
	if !ok {
		return
	}
	to, from, status := q.Get("To"), q.Get("From"), q.Get("Status")
	var all []Call
	for _, c := range s.Calls() {
		if (to != "" && c.To != to) || (from != "" && c.From != from) || (status != "" && c.Status != status) ||
			c.AccountSID != r.PathValue("sid") || !started(c.StartTime) {
			continue
		}
		all = append(all, c)
	}
	// Newest first; the SID sequence breaks ties within a second.
	slices.Reverse(all)
	slices.SortStableFunc(all, func(a, b Call) int { return cmp.Compare(b.Received.Unix(), a.Received.Unix()) })
	items := make([]map[string]any, len(all))
	for i, c := range all {
		items[i] = callJSON(c)
	}
	writePage(w, r, "calls", items, size, page)
}

// paging reads PageSize and Page, answering 400 for a bad one.
func paging(w http.ResponseWriter, q url.Values) (size, page int, ok bool) {
	size = defaultPageSize
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, CodeInvalidParameter, "Invalid PageSize: "+v)
			return 0, 0, false
		}
		size = min(n, maxPageSize)
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, CodeInvalidParameter, "Invalid Page: "+v)
			return 0, 0, false
		}
		page = n
	}
	return size, page, true
}

// dateFilters reads the filters name (that day), name< (on or before) and name> (on or after),
// answering 400 for a bad date. keep reports whether a time passes them all; the zero time
// (not yet set) passes only when none is given.
func dateFilters(w http.ResponseWriter, q url.Values, name string) (keep func(time.Time) bool, ok bool) {
	type dateFilter struct {
		param string
		keep  func(t, day time.Time) bool
	}
	var keeps []func(time.Time) bool
	for _, f := range []dateFilter{
		{name, func(t, day time.Time) bool { return !t.Before(day) && t.Before(day.AddDate(0, 0, 1)) }},
		{name + "<", func(t, day time.Time) bool { return t.Before(day.AddDate(0, 0, 1)) }},
		{name + ">", func(t, day time.Time) bool { return !t.Before(day) }},
	} {
		v := q.Get(f.param)
		if v == "" {
			continue
		}
		day, ok := parseDay(v)
		if !ok {
			writeError(w, http.StatusBadRequest, CodeInvalidParameter, fmt.Sprintf("Invalid %s: %s", f.param, v))
			return nil, false
		}
		keeps = append(keeps, func(t time.Time) bool { return !t.IsZero() && f.keep(t.UTC(), day) })
	}
	return func(t time.Time) bool {
		for _, k := range keeps {
			if !k(t) {
				return false
			}
		}
		return true
	}, true
}

// writePage answers one page of a list resource, its items under key, with Twilio's page
// fields.
func writePage(w http.ResponseWriter, r *http.Request, key string, all []map[string]any, size, page int) {
	q, path := r.URL.Query(), r.URL.Path
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
		key:                 all[start:end],
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
