package discord

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// testKey derives a deterministic key pair from a seed of one repeated byte,
// so failures reproduce byte for byte.
func testKey(seedByte byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seedByte}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// sign returns the X-Signature-Ed25519 value Discord would send.
func sign(priv ed25519.PrivateKey, timestamp string, body []byte) string {
	return hex.EncodeToString(ed25519.Sign(priv, append([]byte(timestamp), body...)))
}

// newRequest builds a POST to /discord/interactions; an empty header value
// leaves the header out.
func newRequest(body []byte, timestamp, signature string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/discord/interactions", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if timestamp != "" {
		r.Header.Set("X-Signature-Timestamp", timestamp)
	}
	if signature != "" {
		r.Header.Set("X-Signature-Ed25519", signature)
	}
	return r
}

func TestParsePublicKey(t *testing.T) {
	pub, _ := testKey(7)
	hexKey := hex.EncodeToString(pub)
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{name: "lowercase hex", in: hexKey},
		{name: "uppercase hex", in: strings.ToUpper(hexKey)},
		{name: "trailing newline", in: hexKey + "\n"},
		{name: "empty", in: "", wantErr: true},
		{name: "bad hex", in: "zz" + hexKey[2:], wantErr: true},
		{name: "odd length", in: hexKey[1:], wantErr: true},
		{name: "too short", in: hexKey[:62], wantErr: true},
		{name: "too long", in: hexKey + "00", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePublicKey(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadPublicKey) {
					t.Fatalf("ParsePublicKey(%q) error = %v, want ErrBadPublicKey", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublicKey(%q) = %v", tt.in, err)
			}
			if !got.Equal(pub) {
				t.Errorf("ParsePublicKey(%q) = %x, want %x", tt.in, got, pub)
			}
		})
	}
}

func TestVerifyRequest(t *testing.T) {
	pub, priv := testKey(1)
	otherPub, otherPriv := testKey(2)
	const ts = "1773480600"
	body := []byte(`{"type":2,"data":{"name":"incident","options":[{"name":"raise","value":"intrusion sev2 @north-gate"}]}}`)
	sig := sign(priv, ts, body)
	ping := []byte(`{"type":1}`)
	const limit = 1024
	exact := bytes.Repeat([]byte("a"), limit)
	big := bytes.Repeat([]byte("a"), limit+1)

	tests := []struct {
		name    string
		body    []byte
		ts      string
		sig     string
		key     ed25519.PublicKey
		maxBody int64
		wantErr error // nil means the request must verify
	}{
		{name: "valid", body: body, ts: ts, sig: sig, key: pub, maxBody: limit},
		{name: "valid ping", body: ping, ts: ts, sig: sign(priv, ts, ping), key: pub, maxBody: limit},
		{name: "valid uppercase hex", body: body, ts: ts, sig: strings.ToUpper(sig), key: pub, maxBody: limit},
		{name: "valid empty body", body: nil, ts: ts, sig: sign(priv, ts, nil), key: pub, maxBody: limit},
		{name: "valid body of exactly maxBody", body: exact, ts: ts, sig: sign(priv, ts, exact), key: pub, maxBody: limit},
		{name: "valid default limit", body: body, ts: ts, sig: sig, key: pub, maxBody: 0},
		{name: "valid limit at int64 max", body: body, ts: ts, sig: sig, key: pub, maxBody: math.MaxInt64},

		{name: "changed body", body: append(bytes.Clone(body), ' '), ts: ts, sig: sig, key: pub, maxBody: limit, wantErr: ErrBadSignature},
		{name: "changed timestamp", body: body, ts: "1773480601", sig: sig, key: pub, maxBody: limit, wantErr: ErrBadSignature},
		{name: "wrong key", body: body, ts: ts, sig: sig, key: otherPub, maxBody: limit, wantErr: ErrBadSignature},
		{name: "signed by another key", body: body, ts: ts, sig: sign(otherPriv, ts, body), key: pub, maxBody: limit, wantErr: ErrBadSignature},
		{name: "signature bad hex", body: body, ts: ts, sig: "zz" + sig[2:], key: pub, maxBody: limit, wantErr: ErrBadSignature},
		{name: "signature odd length", body: body, ts: ts, sig: sig[1:], key: pub, maxBody: limit, wantErr: ErrBadSignature},
		{name: "signature too short", body: body, ts: ts, sig: sig[:126], key: pub, maxBody: limit, wantErr: ErrBadSignature},
		{name: "signature too long", body: body, ts: ts, sig: sig + "00", key: pub, maxBody: limit, wantErr: ErrBadSignature},
		{name: "signature all zero", body: body, ts: ts, sig: strings.Repeat("0", 128), key: pub, maxBody: limit, wantErr: ErrBadSignature},

		{name: "missing signature header", body: body, ts: ts, sig: "", key: pub, maxBody: limit, wantErr: ErrMissingHeader},
		{name: "missing timestamp header", body: body, ts: "", sig: sig, key: pub, maxBody: limit, wantErr: ErrMissingHeader},

		{name: "oversized", body: big, ts: ts, sig: sign(priv, ts, big), key: pub, maxBody: limit, wantErr: ErrBodyTooLarge},
		{name: "oversized for the default limit", body: bytes.Repeat([]byte("a"), MaxBodyBytes+1), ts: ts, sig: sig, key: pub, maxBody: -1, wantErr: ErrBodyTooLarge},

		{name: "nil key", body: body, ts: ts, sig: sig, key: nil, maxBody: limit, wantErr: ErrBadPublicKey},
		{name: "short key", body: body, ts: ts, sig: sig, key: pub[:31], maxBody: limit, wantErr: ErrBadPublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(tt.body, tt.ts, tt.sig)
			got, err := VerifyRequest(r, tt.key, tt.maxBody)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("VerifyRequest error = %v, want %v", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("VerifyRequest returned %d body bytes with an error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyRequest error = %v, want nil", err)
			}
			if !bytes.Equal(got, tt.body) {
				t.Errorf("returned body differs from the sent body")
			}
			again, err := io.ReadAll(r.Body)
			if err != nil || !bytes.Equal(again, tt.body) {
				t.Errorf("r.Body after VerifyRequest = %d bytes (err %v), want the sent body", len(again), err)
			}
		})
	}
}

// The limit holds on the bytes read, not only on Content-Length.
func TestVerifyRequestOversizedChunked(t *testing.T) {
	pub, priv := testKey(1)
	big := bytes.Repeat([]byte("x"), 200)
	r := newRequest(big, "1", sign(priv, "1", big))
	r.ContentLength = -1
	if _, err := VerifyRequest(r, pub, 100); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("VerifyRequest error = %v, want ErrBodyTooLarge", err)
	}
}

// A body that fails mid-read is reported as such, not as a bad signature.
func TestVerifyRequestReadError(t *testing.T) {
	pub, priv := testKey(1)
	r := newRequest(nil, "1", sign(priv, "1", nil))
	boom := errors.New("connection reset")
	r.Body = io.NopCloser(io.MultiReader(strings.NewReader("{"), errReader{boom}))
	r.ContentLength = -1
	_, err := VerifyRequest(r, pub, 0)
	if !errors.Is(err, boom) || errors.Is(err, ErrBadSignature) {
		t.Fatalf("VerifyRequest error = %v, want it to wrap %v only", err, boom)
	}
}

// A key parsed from its hex form verifies what the private key signed: the
// path production takes from DISCORD_PUBLIC_KEY.
func TestVerifyRequestWithParsedKey(t *testing.T) {
	pub, priv := testKey(9)
	key, err := ParsePublicKey(hex.EncodeToString(pub))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":1}`)
	if _, err := VerifyRequest(newRequest(body, "1773480600", sign(priv, "1773480600", body)), key, 0); err != nil {
		t.Fatalf("VerifyRequest = %v, want nil", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func FuzzVerifyRequest(f *testing.F) {
	_, priv := testKey(1)
	body := []byte(`{"type":1}`)
	f.Add(body, "1773480600", sign(priv, "1773480600", body), []byte(nil), int64(0), false)
	f.Add(body, "1773480600", "", []byte{1, 2, 3}, int64(-5), true)
	f.Add([]byte{}, "", "", []byte(nil), int64(1), false)
	f.Add([]byte("x"), "t", strings.Repeat("0", 128), bytes.Repeat([]byte{0}, 32), int64(math.MaxInt64), false)
	f.Add([]byte("xyz"), "t", "zz", []byte(nil), int64(2), true)

	f.Fuzz(func(t *testing.T, body []byte, ts, sig string, seed []byte, maxBody int64, signIt bool) {
		// A nil or short seed selects the fixed test key; a 32-byte one
		// makes its own key pair, so the key varies too.
		pub, priv := testKey(1)
		if len(seed) == ed25519.SeedSize {
			priv = ed25519.NewKeyFromSeed(seed)
			pub = priv.Public().(ed25519.PublicKey)
		} else if len(seed) > 0 && len(seed) != ed25519.PublicKeySize {
			// Any other length is passed as the public key itself: it must
			// be refused, never panic.
			pub = seed
		}
		if signIt {
			sig = sign(priv, ts, body)
		}
		r := newRequest(body, "", "")
		r.Header["X-Signature-Timestamp"] = []string{ts}
		r.Header["X-Signature-Ed25519"] = []string{sig}

		got, err := VerifyRequest(r, pub, maxBody)
		limit := maxBody
		if limit <= 0 {
			limit = MaxBodyBytes
		}
		if err == nil {
			if !bytes.Equal(got, body) {
				t.Fatalf("verified body differs from the sent body")
			}
			return
		}
		if got != nil {
			t.Fatalf("body returned together with error %v", err)
		}
		if signIt && ts != "" && len(pub) == ed25519.PublicKeySize && pub.Equal(priv.Public()) && int64(len(body)) <= limit {
			t.Fatalf("a correctly signed request failed: %v", err)
		}
	})
}
