package sms

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Twilio's worked example from "Validating signatures from Twilio"
// (https://www.twilio.com/docs/usage/security#validating-requests).
const (
	exampleToken     = "12345"
	exampleURL       = "https://mycompany.com/myapp.php?foo=1&bar=2"
	exampleSignature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
)

func exampleParams() url.Values {
	return url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+12349013030"},
		"Digits":  {"1234"},
		"From":    {"+12349013030"},
		"To":      {"+18005551212"},
	}
}

// refSignature is an independent, deliberately plain rendering of Twilio's
// algorithm over an already ordered list of name/value pairs, so tests do not
// only check TwilioSignature against itself.
func refSignature(token, fullURL string, pairs ...string) string {
	s := fullURL
	for i := 0; i+1 < len(pairs); i += 2 {
		s += pairs[i] + pairs[i+1]
	}
	h := hmac.New(sha1.New, []byte(token))
	h.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func TestTwilioSignatureTwilioExample(t *testing.T) {
	if got := TwilioSignature(exampleToken, exampleURL, exampleParams()); got != exampleSignature {
		t.Fatalf("TwilioSignature(Twilio example) = %s, want %s", got, exampleSignature)
	}
}

// The same example as printed in the twilio-php library's validation guide,
// with a different caller number and so a different signature.
func TestTwilioSignatureTwilioPHPExample(t *testing.T) {
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675309"},
		"Digits":  {"1234"},
		"From":    {"+14158675309"},
		"To":      {"+18005551212"},
	}
	const want = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
	if got := TwilioSignature(exampleToken, exampleURL, params); got != want {
		t.Fatalf("TwilioSignature(twilio-php example) = %s, want %s", got, want)
	}
}

// Changing any one input changes the signature.
func TestTwilioSignatureChanges(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		url    string
		params func(url.Values)
	}{
		{name: "one param value", token: exampleToken, url: exampleURL, params: func(p url.Values) { p.Set("Digits", "1235") }},
		{name: "one param added", token: exampleToken, url: exampleURL, params: func(p url.Values) { p.Set("Body", "ACK 17") }},
		{name: "one param removed", token: exampleToken, url: exampleURL, params: func(p url.Values) { p.Del("To") }},
		{name: "param renamed", token: exampleToken, url: exampleURL, params: func(p url.Values) { p["digits"] = p["Digits"]; p.Del("Digits") }},
		{name: "query value", token: exampleToken, url: "https://mycompany.com/myapp.php?foo=1&bar=3"},
		{name: "query order", token: exampleToken, url: "https://mycompany.com/myapp.php?bar=2&foo=1"},
		{name: "scheme", token: exampleToken, url: "http://mycompany.com/myapp.php?foo=1&bar=2"},
		{name: "host", token: exampleToken, url: "https://mycompany.net/myapp.php?foo=1&bar=2"},
		{name: "path", token: exampleToken, url: "https://mycompany.com/myapp.php/?foo=1&bar=2"},
		{name: "token", token: "12346", url: exampleURL},
		{name: "empty token", token: "", url: exampleURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := exampleParams()
			if tt.params != nil {
				tt.params(p)
			}
			if got := TwilioSignature(tt.token, tt.url, p); got == exampleSignature {
				t.Fatalf("signature unchanged: %s", got)
			}
		})
	}
}

func TestTwilioSignatureOrdering(t *testing.T) {
	const token, u = "tok", "https://muster.example.com/twilio/sms"
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{name: "no params", params: nil, want: refSignature(token, u)},
		{name: "keys sorted by byte order, upper case first", params: url.Values{"b": {"1"}, "B": {"2"}, "a": {"3"}},
			want: refSignature(token, u, "B", "2", "a", "3", "b", "1")},
		{name: "repeated key: each value, values sorted", params: url.Values{"MediaUrl": {"z", "a", "m"}, "Body": {"hi"}},
			want: refSignature(token, u, "Body", "hi", "MediaUrl", "a", "MediaUrl", "m", "MediaUrl", "z")},
		{name: "repeated identical values all count", params: url.Values{"k": {"v", "v"}},
			want: refSignature(token, u, "k", "v", "k", "v")},
		{name: "empty value", params: url.Values{"Body": {""}, "From": {"+1"}},
			want: refSignature(token, u, "Body", "", "From", "+1")},
		{name: "values unescaped", params: url.Values{"Body": {"ACK 17 & done"}},
			want: refSignature(token, u, "Body", "ACK 17 & done")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TwilioSignature(token, u, tt.params); got != tt.want {
				t.Errorf("TwilioSignature = %s, want %s", got, tt.want)
			}
		})
	}
}

// TwilioSignature sorts copies: the caller's value order is left alone.
func TestTwilioSignatureDoesNotReorderParams(t *testing.T) {
	p := url.Values{"k": {"z", "a"}}
	TwilioSignature("t", "u", p)
	if p["k"][0] != "z" || p["k"][1] != "a" {
		t.Fatalf("params reordered to %v", p["k"])
	}
}

// newForm builds a signed-looking form POST to target (a path and query, as
// Twilio's request line carries it). An empty sig leaves the header out.
func newForm(target string, form url.Values, sig string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if sig != "" {
		r.Header.Set("X-Twilio-Signature", sig)
	}
	return r
}

// Twilio's published example, arriving as the POST it describes: the public
// URL is the scheme and host, the request line carries path and query.
func TestVerifyTwilioRequestTwilioExample(t *testing.T) {
	r := newForm("/myapp.php?foo=1&bar=2", exampleParams(), exampleSignature)
	if err := VerifyTwilioRequest(r, exampleToken, "https://mycompany.com"); err != nil {
		t.Fatalf("VerifyTwilioRequest(Twilio example) = %v, want nil", err)
	}
	if got := r.PostForm.Get("Digits"); got != "1234" {
		t.Errorf("PostForm Digits = %q, want 1234", got)
	}
}

func TestVerifyTwilioRequest(t *testing.T) {
	const (
		token     = "muster-test-auth-token"
		publicURL = "https://muster.example.com"
		target    = "/twilio/sms?site=north-gate"
	)
	form := url.Values{
		"MessageSid": {"SM0123456789abcdef0123456789abcdef"},
		"From":       {"+447700900123"},
		"To":         {"+447700900999"},
		"Body":       {"ACK 17"},
	}
	signedURL := publicURL + target
	sig := TwilioSignature(token, signedURL, form)
	changed := url.Values{}
	for k, v := range form {
		changed[k] = v
	}
	changed.Set("Body", "ACK 18")

	tests := []struct {
		name      string
		req       func() *http.Request
		token     string
		publicURL string
		wantErr   error // nil means the request must verify
	}{
		{name: "valid", req: func() *http.Request { return newForm(target, form, sig) }, token: token, publicURL: publicURL},
		{name: "valid with trailing slash on public url", req: func() *http.Request { return newForm(target, form, sig) }, token: token, publicURL: publicURL + "/"},
		{name: "valid absolute request target", req: func() *http.Request { return newForm(signedURL, form, sig) }, token: token, publicURL: publicURL},
		{name: "valid with base path", req: func() *http.Request {
			return newForm(target, form, TwilioSignature(token, "https://example.org/muster"+target, form))
		}, token: token, publicURL: "https://example.org/muster"},
		{name: "valid GET with no form", req: func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, target, nil)
			r.Header.Set("X-Twilio-Signature", TwilioSignature(token, signedURL, nil))
			return r
		}, token: token, publicURL: publicURL},

		{name: "one param changed", req: func() *http.Request { return newForm(target, changed, sig) }, token: token, publicURL: publicURL, wantErr: ErrBadSignature},
		{name: "query changed", req: func() *http.Request { return newForm("/twilio/sms?site=south-gate", form, sig) }, token: token, publicURL: publicURL, wantErr: ErrBadSignature},
		{name: "path changed", req: func() *http.Request { return newForm("/twilio/status?site=north-gate", form, sig) }, token: token, publicURL: publicURL, wantErr: ErrBadSignature},
		{name: "public url changed", req: func() *http.Request { return newForm(target, form, sig) }, token: token, publicURL: "http://muster.example.com", wantErr: ErrBadSignature},
		{name: "wrong token", req: func() *http.Request { return newForm(target, form, sig) }, token: token + "x", publicURL: publicURL, wantErr: ErrBadSignature},
		{name: "signature truncated", req: func() *http.Request { return newForm(target, form, sig[:len(sig)-1]) }, token: token, publicURL: publicURL, wantErr: ErrBadSignature},
		{name: "form sent as the wrong content type", req: func() *http.Request {
			r := newForm(target, form, sig)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, token: token, publicURL: publicURL, wantErr: ErrBadSignature},

		{name: "missing signature", req: func() *http.Request { return newForm(target, form, "") }, token: token, publicURL: publicURL, wantErr: ErrMissingSignature},
		{name: "empty token", req: func() *http.Request { return newForm(target, form, TwilioSignature("", signedURL, form)) }, token: "", publicURL: publicURL, wantErr: ErrNoAuthToken},
		{name: "oversized body", req: func() *http.Request {
			big := url.Values{"Body": {strings.Repeat("x", MaxBodyBytes)}}
			return newForm(target, big, TwilioSignature(token, signedURL, big))
		}, token: token, publicURL: publicURL, wantErr: ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyTwilioRequest(tt.req(), tt.token, tt.publicURL)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("VerifyTwilioRequest = %v, want nil", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("VerifyTwilioRequest = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// After verification the handler reads the form as usual: PostForm, Form
// (query merged in), FormValue, and the raw body.
func TestVerifyTwilioRequestKeepsFormUsable(t *testing.T) {
	const token, publicURL, target = "tok", "https://muster.example.com", "/twilio/sms?site=north-gate"
	form := url.Values{"From": {"+447700900123"}, "Body": {"ACK 17"}}
	r := newForm(target, form, TwilioSignature(token, publicURL+target, form))

	if err := VerifyTwilioRequest(r, token, publicURL); err != nil {
		t.Fatalf("VerifyTwilioRequest = %v", err)
	}
	if got := r.PostFormValue("Body"); got != "ACK 17" {
		t.Errorf("PostFormValue(Body) = %q, want ACK 17", got)
	}
	if got := r.FormValue("site"); got != "north-gate" {
		t.Errorf("FormValue(site) = %q, want north-gate (query merged into Form)", got)
	}
	if got := r.FormValue("From"); got != "+447700900123" {
		t.Errorf("FormValue(From) = %q, want +447700900123", got)
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil || string(raw) != form.Encode() {
		t.Errorf("r.Body after VerifyTwilioRequest = %q (err %v), want %q", raw, err, form.Encode())
	}
}

// A caller that parsed the form first still verifies: its PostForm is used.
func TestVerifyTwilioRequestAfterParseForm(t *testing.T) {
	const token, publicURL, target = "tok", "https://muster.example.com", "/twilio/status"
	form := url.Values{"MessageStatus": {"delivered"}, "MessageSid": {"SM1"}}
	r := newForm(target, form, TwilioSignature(token, publicURL+target, form))
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	if err := VerifyTwilioRequest(r, token, publicURL); err != nil {
		t.Fatalf("VerifyTwilioRequest after ParseForm = %v, want nil", err)
	}
}

// A JSON body is signed only through bodySHA256 in the URL; without a
// matching hash it is refused even though the URL's signature is right.
func TestVerifyTwilioRequestBodySHA256(t *testing.T) {
	const token, publicURL = "tok", "https://muster.example.com"
	body := `{"event":"delivered"}`
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	newJSON := func(target, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Twilio-Signature", TwilioSignature(token, publicURL+target, nil))
		return r
	}

	r := newJSON("/twilio/status?bodySHA256="+hash, body)
	if err := VerifyTwilioRequest(r, token, publicURL); err != nil {
		t.Fatalf("matching bodySHA256: VerifyTwilioRequest = %v, want nil", err)
	}
	if raw, _ := io.ReadAll(r.Body); string(raw) != body {
		t.Errorf("r.Body after VerifyTwilioRequest = %q, want %q", raw, body)
	}
	if err := VerifyTwilioRequest(newJSON("/twilio/status?bodySHA256="+hash, `{"event":"failed"}`), token, publicURL); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed body: VerifyTwilioRequest = %v, want ErrBadSignature", err)
	}
	if err := VerifyTwilioRequest(newJSON("/twilio/status", body), token, publicURL); !errors.Is(err, ErrBadSignature) {
		t.Errorf("no bodySHA256: VerifyTwilioRequest = %v, want ErrBadSignature", err)
	}
}

// Through a real handler: the way cmd will mount it, with the signed URL
// rebuilt from publicURL and the request line.
func TestVerifyTwilioRequestThroughHandler(t *testing.T) {
	const token, publicURL = "tok", "https://muster.example.com"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := VerifyTwilioRequest(r, token, publicURL); err != nil {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		io.WriteString(w, "ok "+r.PostFormValue("Body"))
	})
	form := url.Values{"From": {"+447700900123"}, "Body": {"STATUS"}}
	target := "/twilio/sms"

	for _, tc := range []struct {
		name string
		sig  string
		want int
	}{
		{name: "signed", sig: TwilioSignature(token, publicURL+target, form), want: http.StatusOK},
		{name: "signed for another host", sig: TwilioSignature(token, "https://evil.example.com"+target, form), want: http.StatusForbidden},
		{name: "unsigned", sig: "", want: http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, newForm(target, form, tc.sig))
			if w.Code != tc.want {
				t.Fatalf("status = %d (%s), want %d", w.Code, w.Body, tc.want)
			}
			if tc.want == http.StatusOK && w.Body.String() != "ok STATUS" {
				t.Errorf("body = %q, want %q", w.Body, "ok STATUS")
			}
		})
	}
}

func FuzzVerifyTwilioRequest(f *testing.F) {
	exampleBody := exampleParams().Encode()
	f.Add(exampleToken, "https://mycompany.com", "/myapp.php", "foo=1&bar=2", exampleBody, exampleSignature, "application/x-www-form-urlencoded", false)
	f.Add("t", "https://muster.example.com/", "/twilio/sms", "", "Body=ACK+17&From=%2B1", "", "application/x-www-form-urlencoded", true)
	f.Add("", "", "", "", "", "", "", false)
	f.Add("t", "x", "/", "bodySHA256=00", `{"a":1}`, "AAAA", "application/json", true)
	f.Add("t", "x", "/%zz", "a=%zz", "%zz=1;b", "x", "application/x-www-form-urlencoded; charset=\"", true)

	f.Fuzz(func(t *testing.T, token, publicURL, path, rawQuery, body, sig, contentType string, signIt bool) {
		u := &url.URL{Path: path, RawQuery: rawQuery}
		if signIt {
			form, _ := url.ParseQuery(body)
			sig = TwilioSignature(token, strings.TrimSuffix(publicURL, "/")+u.RequestURI(), form)
		}
		r := &http.Request{
			Method:        http.MethodPost,
			URL:           u,
			Header:        http.Header{"X-Twilio-Signature": {sig}, "Content-Type": {contentType}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		err := VerifyTwilioRequest(r, token, publicURL)
		if err == nil && token == "" {
			t.Fatalf("verified with an empty token")
		}
		if err == nil && sig == "" {
			t.Fatalf("verified without a signature")
		}
		// A form body that parses cleanly, properly signed, must verify.
		if signIt && token != "" && sig != "" && isForm(r) && len(body) <= MaxBodyBytes {
			if _, perr := url.ParseQuery(body); perr == nil && err != nil {
				t.Fatalf("a correctly signed form request failed: %v", err)
			}
		}
	})
}
