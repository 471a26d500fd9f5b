package sms

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// MaxBodyBytes is the largest webhook body VerifyTwilioRequest reads. Twilio's
// SMS, status and voice callbacks are a few KiB of form fields.
const MaxBodyBytes = 64 << 10

// headerSignature is the header Twilio puts its signature in.
const headerSignature = "X-Twilio-Signature"

// Sentinel errors returned (wrapped) by VerifyTwilioRequest. Callers branch on
// them with errors.Is; every one of them means "answer 403 and do nothing".
var (
	// ErrMissingSignature means the X-Twilio-Signature header is absent or
	// empty.
	ErrMissingSignature = errors.New("sms: missing X-Twilio-Signature header")
	// ErrBadSignature means the signature does not match the URL, the form
	// parameters and the auth token, or that a non-form body is not covered by
	// a matching bodySHA256 query parameter.
	ErrBadSignature = errors.New("sms: twilio signature mismatch")
	// ErrBodyTooLarge means the request body is longer than MaxBodyBytes.
	ErrBodyTooLarge = errors.New("sms: request body too large")
	// ErrNoAuthToken means VerifyTwilioRequest was called with an empty auth
	// token. An empty HMAC key would let anyone sign, so the request is
	// refused.
	ErrNoAuthToken = errors.New("sms: empty twilio auth token")
)

// TwilioSignature returns the X-Twilio-Signature value Twilio computes for a
// request to fullURL carrying the POST parameters params: the base64 of the
// HMAC-SHA1, keyed with authToken, of fullURL followed by every parameter
// name immediately followed by its value, names in byte order. A name that
// occurs more than once contributes name+value once per value, its values in
// byte order. params may be nil (a GET, or a POST with no form). It is used by
// VerifyTwilioRequest and by tests and fakes that stand in for Twilio; params
// is not modified.
//
// See https://www.twilio.com/docs/usage/security#validating-requests.
func TwilioSignature(authToken, fullURL string, params url.Values) string {
	h := hmac.New(sha1.New, []byte(authToken))
	h.Write([]byte(fullURL))
	for _, k := range slices.Sorted(maps.Keys(params)) {
		for _, v := range slices.Sorted(slices.Values(params[k])) {
			h.Write([]byte(k))
			h.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// VerifyTwilioRequest checks that r carries a valid X-Twilio-Signature for
// authToken.
//
// The signed URL is publicURL (scheme, host and optional base path, as in
// server.public_url; a trailing slash is ignored) joined with
// r.URL.RequestURI(), the path and query this server received. It must be
// exactly the URL configured in Twilio, so a proxy in front of muster must not
// rewrite the path or the query.
//
// For a POST, PUT or PATCH with Content-Type application/x-www-form-urlencoded
// the form parameters are read from the body (at most MaxBodyBytes) and
// signed with the URL. Afterwards r.PostForm holds them and r.Body reads the
// same bytes again, so r.ParseForm, r.FormValue and r.PostFormValue work as
// usual. If r.PostForm is already set, the caller has parsed the form before
// and those values are used. Any other non-empty body is accepted only if
// the signed URL carries a bodySHA256 query parameter equal to the hex
// SHA-256 of the body (Twilio's scheme for JSON callbacks); otherwise the
// body would go unsigned.
//
// The signatures are compared in constant time. The error wraps one of the
// sentinel errors above, or reports a body that cannot be read or parsed.
func VerifyTwilioRequest(r *http.Request, authToken, publicURL string) error {
	if authToken == "" {
		return ErrNoAuthToken
	}
	sig := r.Header.Get(headerSignature)
	if sig == "" {
		return ErrMissingSignature
	}
	fullURL := strings.TrimSuffix(publicURL, "/") + r.URL.RequestURI()

	var params url.Values
	var body []byte // a non-form body, to check against bodySHA256
	if isForm(r) {
		var err error
		if params, err = postForm(r); err != nil {
			return err
		}
	} else {
		var err error
		if body, err = readBody(r, MaxBodyBytes); err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}

	want := TwilioSignature(authToken, fullURL, params)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return ErrBadSignature
	}
	if len(body) > 0 {
		// The URL, bodySHA256 included, is signed; the body is bound to it
		// by its hash.
		sum := sha256.Sum256(body)
		got := r.URL.Query().Get("bodySHA256")
		if !hmac.Equal([]byte(strings.ToLower(got)), []byte(hex.EncodeToString(sum[:]))) {
			return fmt.Errorf("%w: body not covered by bodySHA256", ErrBadSignature)
		}
	}
	return nil
}

// isForm reports whether r carries url-encoded form parameters in its body,
// by the same rule as http.Request.ParseForm.
func isForm(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return false
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && ct == "application/x-www-form-urlencoded"
}

// postForm returns the form parameters of r, reading and parsing the body
// unless the caller already has. It leaves r.PostForm set and r.Body
// readable again.
func postForm(r *http.Request) (url.Values, error) {
	if r.PostForm != nil {
		return r.PostForm, nil
	}
	body, err := readBody(r, MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	params, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("sms: parse form body: %w", err)
	}
	// r.Form stays nil, so a later r.ParseForm merges the query into it and
	// keeps this PostForm instead of reading the body again.
	r.PostForm = params
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return params, nil
}

// readBody reads all of r.Body, refusing more than limit bytes. The original
// body is left for the http.Server to close.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: content length %d, limit %d", ErrBodyTooLarge, r.ContentLength, limit)
	}
	if r.Body == nil {
		return nil, nil
	}
	// One byte over the limit tells "exactly limit" from "too long".
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("sms: read request body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: limit %d", ErrBodyTooLarge, limit)
	}
	return body, nil
}
