package discord

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
)

// MaxBodyBytes is the body limit VerifyRequest applies when it is given a
// maxBody of zero or less. Interaction payloads are a few KiB.
const MaxBodyBytes = 64 << 10

// Header names Discord sets on every interaction it sends over HTTP.
const (
	headerSignature = "X-Signature-Ed25519"
	headerTimestamp = "X-Signature-Timestamp"
)

// Sentinel errors returned (wrapped) by VerifyRequest and ParsePublicKey.
// Discord expects a 401 for any of the VerifyRequest ones; its endpoint check
// sends deliberately bad signatures and disables the endpoint if they pass.
var (
	// ErrMissingHeader means X-Signature-Ed25519 or X-Signature-Timestamp is
	// absent or empty.
	ErrMissingHeader = errors.New("discord: missing header")
	// ErrBadSignature means the signature is not 64 bytes of hex or does not
	// verify over timestamp+body with the application's public key.
	ErrBadSignature = errors.New("discord: signature mismatch")
	// ErrBodyTooLarge means the request body is longer than the limit.
	ErrBodyTooLarge = errors.New("discord: request body too large")
	// ErrBadPublicKey means a public key is not 32 bytes (64 hex digits).
	ErrBadPublicKey = errors.New("discord: malformed public key")
)

// ParsePublicKey decodes the application's public key as the Discord
// developer portal shows it (and as DISCORD_PUBLIC_KEY holds it): 64 hex
// digits. Surrounding white space, such as a trailing newline from a secrets
// file, is ignored.
func ParsePublicKey(hexKey string) (ed25519.PublicKey, error) {
	raw, err := hex.DecodeString(strings.TrimSpace(hexKey))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPublicKey, err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadPublicKey, len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// VerifyRequest checks that r is an interaction signed by Discord, following
// https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers:
// X-Signature-Ed25519 must be a valid Ed25519 signature, by publicKey, of the
// X-Signature-Timestamp header text followed by the raw body.
//
// maxBody limits the body; zero or less means MaxBodyBytes. Discord signs the
// timestamp but documents no replay window, so none is enforced here.
//
// On success it returns the body and replaces r.Body with a reader over the
// same bytes. On failure the error wraps one of the sentinel errors above
// (or is a read error) and r.Body may have been consumed.
func VerifyRequest(r *http.Request, publicKey ed25519.PublicKey, maxBody int64) ([]byte, error) {
	// ed25519.Verify panics on a key of the wrong length; refuse it first.
	if len(publicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadPublicKey, len(publicKey), ed25519.PublicKeySize)
	}
	if maxBody <= 0 {
		maxBody = MaxBodyBytes
	}

	sigHex := r.Header.Get(headerSignature)
	if sigHex == "" {
		return nil, fmt.Errorf("%w: %s", ErrMissingHeader, headerSignature)
	}
	ts := r.Header.Get(headerTimestamp)
	if ts == "" {
		return nil, fmt.Errorf("%w: %s", ErrMissingHeader, headerTimestamp)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadSignature, len(sig), ed25519.SignatureSize)
	}

	body, err := readBody(r, maxBody)
	if err != nil {
		return nil, err
	}

	msg := make([]byte, 0, len(ts)+len(body))
	msg = append(msg, ts...)
	msg = append(msg, body...)
	if !ed25519.Verify(publicKey, msg, sig) {
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
	// One byte over the limit tells "exactly limit" from "too long". At
	// math.MaxInt64 there is no byte over, and no body can be that long.
	n := limit
	if n < math.MaxInt64 {
		n++
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, n))
	if err != nil {
		return nil, fmt.Errorf("discord: read request body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: limit %d", ErrBodyTooLarge, limit)
	}
	return body, nil
}
