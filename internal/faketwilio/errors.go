package faketwilio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Twilio error codes the fake answers with. See https://www.twilio.com/docs/api/errors.
const (
	CodeInvalidParameter    = 20001 // a query parameter Twilio cannot read
	CodeAuthenticate        = 20003 // bad or missing credentials
	CodeNotFound            = 20404 // no such resource
	CodeTooManyRequests     = 20429 // rate limited
	CodeInternalError       = 20500 // Twilio failed
	CodeServiceUnavailable  = 20503 // Twilio is unavailable
	CodeCallToRequired      = 21201 // Calls: no To
	CodeCallURLRequired     = 21205 // Calls: no Url, Twiml or ApplicationSid (Twilio's 212xx family; exact code not documented)
	CodeInvalidTo           = 21211 // the To number is not a valid phone number
	CodeCallFromRequired    = 21213 // Calls: no From
	CodeBodyRequired        = 21602 // Messages: no Body (nor MediaUrl or ContentSid)
	CodeFromRequired        = 21603 // Messages: no From nor MessagingServiceSid
	CodeToRequired          = 21604 // Messages: no To
	CodeUnsubscribed        = 21610 // the recipient replied STOP
	CodeNotMobile           = 21614 // the To number cannot receive SMS
	CodeBodyTooLong         = 21617 // the body exceeds 1600 characters
	CodeRegionNotPermitted  = 21408 // the account may not send to the To number's region
	CodeQueueOverflow       = 30001 // delivery: queue overflow
	CodeUnreachable         = 30003 // delivery: unreachable destination handset
	CodeMessageBlocked      = 30004 // delivery: message blocked
	CodeUnknownDestination  = 30005 // delivery: unknown destination handset
	CodeCarrierViolation    = 30007 // delivery: carrier filtering
	CodeUnknownDeliveryFail = 30008 // delivery: unknown error
)

// defaultMessage returns Twilio's wording for the codes scripts use most.
func defaultMessage(code int) string {
	switch code {
	case CodeAuthenticate:
		return "Authenticate"
	case CodeTooManyRequests:
		return "Too Many Requests"
	case CodeInternalError:
		return "Internal Server Error"
	case CodeServiceUnavailable:
		return "Service Unavailable"
	case CodeInvalidTo:
		return "Invalid 'To' Phone Number"
	case CodeUnsubscribed:
		return "Attempt to send to unsubscribed recipient"
	case CodeNotMobile:
		return "'To' number is not a valid mobile number"
	case CodeRegionNotPermitted:
		return "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"
	}
	return ""
}

// defaultCode picks the Twilio code that goes with an HTTP status when a script names none.
func defaultCode(status int) int {
	switch status {
	case http.StatusUnauthorized:
		return CodeAuthenticate
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusTooManyRequests:
		return CodeTooManyRequests
	case http.StatusServiceUnavailable:
		return CodeServiceUnavailable
	case http.StatusBadRequest:
		return CodeInvalidTo
	default:
		return CodeInternalError
	}
}

// writeError answers with Twilio's error shape:
// {"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}.
func writeError(w http.ResponseWriter, status, code int, message string) {
	if message == "" {
		message = defaultMessage(code)
	}
	if message == "" {
		message = http.StatusText(status)
	}
	if rec, ok := w.(*recorder); ok {
		rec.code = code
	}
	writeJSON(w, status, map[string]any{
		"code":      code,
		"message":   message,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		"status":    status,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, CodeNotFound,
		fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
}
