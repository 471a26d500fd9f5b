package slack

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBodyBytes is the largest request body VerifyRequest accepts. Slash
// commands and interaction payloads are a few KiB; anything near this size is
// not from Slack.
const MaxBodyBytes = 64 << 10

// Header names Slack sets on every signed request.
const (
	headerSignature = "X-Slack-Signature"
	headerTimestamp = "X-Slack-Request-Timestamp"
)

// signatureVersion is the only signature scheme Slack documents: it prefixes
// both the signed base string ("v0:") and the header value ("v0=").
const signatureVersion = "v0"

// maxSkew is how far the request timestamp may be from the local clock, in
// either direction, before the request is treated as a replay. Slack
// recommends five minutes.
const maxSkew = 5 * time.Minute

// Sentinel errors returned (wrapped) by VerifyRequest. Callers branch on them
// with errors.Is; every one of them means "answer 401 and do nothing".
var (
	// ErrMissingHeader means X-Slack-Signature or X-Slack-Request-Timestamp is
	// absent or empty.
	ErrMissingHeader = errors.New("slack: missing header")
	// ErrBadTimestamp means X-Slack-Request-Timestamp is not a Unix time in
	// whole seconds.
	ErrBadTimestamp = errors.New("slack: malformed request timestamp")
	// ErrStaleTimestamp means the request timestamp is more than five minutes
	// away from now, in the past or in the future: a possible replay.
	ErrStaleTimestamp = errors.New("slack: request timestamp outside the replay window")
	// ErrBadSignature means the signature is malformed or does not match the
	// body, the timestamp and the signing secret.
	ErrBadSignature = errors.New("slack: signature mismatch")
	// ErrBodyTooLarge means the request body is longer than MaxBodyBytes.
	ErrBodyTooLarge = errors.New("slack: request body too large")
	// ErrNoSecret means VerifyRequest was called with an empty signing secret.
	// An empty HMAC key would let anyone sign, so the request is refused.
	ErrNoSecret = errors.New("slack: empty signing secret")
)

// Sign returns the X-Slack-Signature value Slack would send for body at
// timestamp (Unix seconds): "v0=" followed by the hex HMAC-SHA256, keyed with
// secret, of "v0:<timestamp>:<body>". It exists for tests and fakes that stand
// in for Slack.
func Sign(secret string, timestamp int64, body []byte) string {
	return signatureVersion + "=" + hex.EncodeToString(mac(secret, strconv.FormatInt(timestamp, 10), body))
}

// mac computes the raw HMAC-SHA256 over the base string. timestamp is the
// header text exactly as received: Slack signs the text, not the number.
func mac(secret, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(signatureVersion + ":" + timestamp + ":"))
	h.Write(body)
	return h.Sum(nil)
}

// VerifyRequest checks that r was signed by Slack with signingSecret and is
// fresh, following https://api.slack.com/authentication/verifying-requests-from-slack.
//
// It reads the raw body (at most MaxBodyBytes), checks that
// X-Slack-Request-Timestamp lies within five minutes of now() in either
// direction (exactly five minutes is still accepted; the comparison is in
// whole seconds), and compares X-Slack-Signature with the HMAC-SHA256 of
// "v0:<timestamp>:<body>" in constant time. now may be nil, meaning time.Now.
//
// On success it returns the body and replaces r.Body with a reader over the
// same bytes, so the caller can parse the request as usual. On failure the
// error wraps one of the sentinel errors above and r.Body may have been
// consumed; the caller should answer 401 and stop.
func VerifyRequest(r *http.Request, signingSecret string, now func() time.Time) ([]byte, error) {
	if signingSecret == "" {
		return nil, ErrNoSecret
	}
	if now == nil {
		now = time.Now
	}

	// Cheap header checks first, so an unsigned or replayed request costs no
	// body read.
	sig := r.Header.Get(headerSignature)
	if sig == "" {
		return nil, fmt.Errorf("%w: %s", ErrMissingHeader, headerSignature)
	}
	ts := r.Header.Get(headerTimestamp)
	if ts == "" {
		return nil, fmt.Errorf("%w: %s", ErrMissingHeader, headerTimestamp)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrBadTimestamp, ts, err)
	}
	// Compare in seconds rather than building a time.Time from sec: an
	// attacker-chosen sec near the int64 limits must not overflow. now()
	// plus or minus 300 s cannot.
	nowSec := now().Unix()
	skew := int64(maxSkew / time.Second)
	if sec < nowSec-skew || sec > nowSec+skew {
		return nil, fmt.Errorf("%w: timestamp %d, now %d", ErrStaleTimestamp, sec, nowSec)
	}

	body, err := readBody(r, MaxBodyBytes)
	if err != nil {
		return nil, err
	}

	got, ok := strings.CutPrefix(sig, signatureVersion+"=")
	if !ok {
		return nil, fmt.Errorf("%w: unknown signature version", ErrBadSignature)
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if !hmac.Equal(gotMAC, mac(signingSecret, ts, body)) {
		return nil, ErrBadSignature
	}

	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return body, nil
}

// readBody reads all of r.Body, refusing more than limit bytes. The original
// body is left for the http.Server to close.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: content length %d, limit %d", ErrBodyTooLarge, r.ContentLength, limit)
	}
	if r.Body == nil {
		return []byte{}, nil
	}
	// One byte over the limit tells "exactly limit" from "too long".
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("slack: read request body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: limit %d", ErrBodyTooLarge, limit)
	}
	return body, nil
}
