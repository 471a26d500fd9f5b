package faketwilio

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// e164 matches a phone number in E.164 form.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// validTo reports whether Twilio would take to as a destination: an E.164 number, or a channel
// address (whatsapp:+1..., messenger:..., client:..., sip:...).
func validTo(to string) bool {
	if e164.MatchString(to) {
		return true
	}
	channel, addr, ok := strings.Cut(to, ":")
	return ok && addr != "" && channel != "" && !strings.ContainsAny(channel, "+ ")
}

// checkAccount answers 401 unless the request is authenticated for the account in its path.
func (s *Server) checkAccount(w http.ResponseWriter, r *http.Request) bool {
	if !s.authorized(r) || r.PathValue("sid") != s.accountSID {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, CodeAuthenticate, "Authenticate")
		return false
	}
	return true
}

func (s *Server) nextSID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%s%032x", prefix, s.seq)
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	if !s.checkAccount(w, r) {
		return
	}
	_ = r.ParseForm()
	form := r.PostForm
	to, from, service, body := form.Get("To"), form.Get("From"), form.Get("MessagingServiceSid"), form.Get("Body")
	if f := s.takeFailure(ResourceMessages, to); f != nil {
		writeFailure(w, f)
		return
	}
	media := form["MediaUrl"]
	switch {
	case to == "":
		writeError(w, http.StatusBadRequest, CodeToRequired, "A 'To' phone number is required.")
		return
	case !validTo(to):
		writeError(w, http.StatusBadRequest, CodeInvalidTo, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
		return
	case from == "" && service == "":
		writeError(w, http.StatusBadRequest, CodeFromRequired, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
		return
	case body == "" && len(media) == 0 && form.Get("ContentSid") == "":
		writeError(w, http.StatusBadRequest, CodeBodyRequired, "Message body is required.")
		return
	case utf8.RuneCountInString(body) > 1600:
		writeError(w, http.StatusBadRequest, CodeBodyTooLong, "The concatenated message body exceeds the 1600 character limit.")
		return
	}

	status := "queued"
	if from == "" {
		status = "accepted" // a messaging service picks the sender later
	}
	m := Message{
		SID:                 s.nextSID("SM"),
		AccountSID:          s.accountSID,
		To:                  to,
		From:                from,
		MessagingServiceSID: service,
		Body:                body,
		MediaURLs:           media,
		StatusCallback:      form.Get("StatusCallback"),
		Status:              status,
		NumSegments:         segments(body),
		Params:              cloneValues(form),
	}
	s.mu.Lock()
	m.Received = s.now()
	s.messages = append(s.messages, m)
	auto := s.autoDeliver && m.StatusCallback != ""
	s.mu.Unlock()

	s.changes.Notify()
	s.door.Pass(r.Context())
	writeJSON(w, http.StatusCreated, messageJSON(m))
	if auto {
		s.deliverLater(m.SID)
	}
}

func (s *Server) handleCalls(w http.ResponseWriter, r *http.Request) {
	if !s.checkAccount(w, r) {
		return
	}
	_ = r.ParseForm()
	form := r.PostForm
	to, from := form.Get("To"), form.Get("From")
	if f := s.takeFailure(ResourceCalls, to); f != nil {
		writeFailure(w, f)
		return
	}
	switch {
	case to == "":
		writeError(w, http.StatusBadRequest, CodeCallToRequired, "No 'To' number is specified")
		return
	case !validTo(to):
		writeError(w, http.StatusBadRequest, CodeInvalidTo, fmt.Sprintf("The phone number you are attempting to call, %s, is not valid.", to))
		return
	case from == "":
		writeError(w, http.StatusBadRequest, CodeCallFromRequired, "No 'From' number is specified")
		return
	case form.Get("Url") == "" && form.Get("Twiml") == "" && form.Get("ApplicationSid") == "":
		writeError(w, http.StatusBadRequest, CodeCallURLRequired, "Either a 'Url', 'Twiml' or 'ApplicationSid' parameter is required")
		return
	}
	c := Call{
		SID:                  s.nextSID("CA"),
		AccountSID:           s.accountSID,
		To:                   to,
		From:                 from,
		URL:                  form.Get("Url"),
		Method:               orDefault(form.Get("Method"), http.MethodPost),
		Twiml:                form.Get("Twiml"),
		ApplicationSID:       form.Get("ApplicationSid"),
		StatusCallback:       form.Get("StatusCallback"),
		StatusCallbackMethod: orDefault(form.Get("StatusCallbackMethod"), http.MethodPost),
		StatusCallbackEvents: form["StatusCallbackEvent"],
		Status:               "queued",
		Params:               cloneValues(form),
	}
	s.mu.Lock()
	c.Received = s.now()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	s.changes.Notify()
	s.door.Pass(r.Context())
	writeJSON(w, http.StatusCreated, callJSON(c))
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return strings.ToUpper(v)
}

// twilioDate formats t as Twilio does: RFC 2822 in GMT.
func twilioDate(t time.Time) string {
	return t.UTC().Format(time.RFC1123Z)
}

// dateOrNull is t as Twilio writes it, or nil (JSON null) for the zero time.
func dateOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return twilioDate(t)
}

// nullable returns nil for "", so that it encodes as JSON null.
func nullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// messageJSON is Twilio's Message resource.
func messageJSON(m Message) map[string]any {
	uri := fmt.Sprintf("/2010-04-01/Accounts/%s/Messages/%s", m.AccountSID, m.SID)
	date := twilioDate(m.Received)
	return map[string]any{
		"account_sid":           m.AccountSID,
		"api_version":           APIVersion,
		"body":                  m.Body,
		"date_created":          date,
		"date_sent":             dateOrNull(m.DateSent),
		"date_updated":          date,
		"direction":             "outbound-api",
		"error_code":            nil,
		"error_message":         nil,
		"from":                  nullable(m.From),
		"messaging_service_sid": nullable(m.MessagingServiceSID),
		"num_media":             fmt.Sprint(len(m.MediaURLs)),
		"num_segments":          fmt.Sprint(m.NumSegments),
		"price":                 nil,
		"price_unit":            "USD",
		"sid":                   m.SID,
		"status":                m.Status,
		"subresource_uris":      map[string]string{"media": uri + "/Media.json"},
		"to":                    m.To,
		"uri":                   uri + ".json",
	}
}

// callJSON is Twilio's Call resource.
func callJSON(c Call) map[string]any {
	uri := fmt.Sprintf("/2010-04-01/Accounts/%s/Calls/%s", c.AccountSID, c.SID)
	date := twilioDate(c.Received)
	return map[string]any{
		"account_sid":      c.AccountSID,
		"annotation":       nil,
		"answered_by":      nil,
		"api_version":      APIVersion,
		"caller_name":      nil,
		"date_created":     date,
		"date_updated":     date,
		"direction":        "outbound-api",
		"duration":         nil,
		"end_time":         nil,
		"forwarded_from":   nil,
		"from":             c.From,
		"from_formatted":   c.From,
		"group_sid":        nil,
		"parent_call_sid":  nil,
		"phone_number_sid": nil,
		"price":            nil,
		"price_unit":       "USD",
		"queue_time":       "0",
		"sid":              c.SID,
		"start_time":       dateOrNull(c.StartTime),
		"status":           c.Status,
		"subresource_uris": map[string]string{
			"events":        uri + "/Events.json",
			"notifications": uri + "/Notifications.json",
			"recordings":    uri + "/Recordings.json",
		},
		"to":           c.To,
		"to_formatted": c.To,
		"trunk_sid":    nil,
		"uri":          uri + ".json",
	}
}

// segments estimates how many SMS segments body takes. ASCII counts as GSM-7 (160 characters,
// 153 per part of a longer message), anything else as UCS-2 (70, then 67 UTF-16 units per part).
// The GSM extension table (characters that count twice) is ignored.
func segments(body string) int {
	single, multi, n := 160, 153, len(body)
	for _, r := range body {
		if r > 0x7f {
			single, multi, n = 70, 67, len(utf16.Encode([]rune(body)))
			break
		}
	}
	if n <= single {
		return 1
	}
	return int(math.Ceil(float64(n) / float64(multi)))
}
