package faketwilio

import (
	"net/url"
	"testing"

	"github.com/twilio/twilio-go/client"
)

// Published example values: Twilio's "Webhooks security" guide, the twilio-php documentation
// (same URL and token, older phone numbers) and twilio-go's own validator test.
func TestSignPublishedExamples(t *testing.T) {
	const token = "12345"
	const fullURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{
			name: "twilio docs",
			params: url.Values{
				"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
				"From": {"+12349013030"}, "To": {"+18005551212"},
			},
			want: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
		},
		{
			name: "twilio-php docs",
			params: url.Values{
				"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675309"}, "Digits": {"1234"},
				"From": {"+14158675309"}, "To": {"+18005551212"},
			},
			want: "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
		},
		{
			name: "twilio-go validator test",
			params: url.Values{
				"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
				"Caller": {"+14158675309"}, "From": {"+14158675309"},
				"ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
			},
			want: "vOEb5UThFn24KEfnOFLQY2AE5FY=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign(token, fullURL, tt.params); got != tt.want {
				t.Errorf("Sign = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSignChangesWithEveryInput(t *testing.T) {
	params := url.Values{"Body": {"ACK 17"}, "From": {"+15551230001"}}
	base := Sign("tok", "https://muster.example/twilio/sms", params)
	if got := Sign("other", "https://muster.example/twilio/sms", params); got == base {
		t.Error("signature does not depend on the auth token")
	}
	if got := Sign("tok", "https://muster.example/twilio/sms?x=1", params); got == base {
		t.Error("signature does not depend on the query string")
	}
	if got := Sign("tok", "https://muster.example/twilio/sms", url.Values{"Body": {"ACK 18"}, "From": {"+15551230001"}}); got == base {
		t.Error("signature does not depend on the parameters")
	}
}

// The fake's signatures must satisfy Twilio's own validator, which production code mirrors.
func TestSignAgreesWithTwilioValidator(t *testing.T) {
	params := url.Values{"MessageSid": {"SM1"}, "Body": {"ACK 17 & more"}, "From": {"+15551230001"}, "NumMedia": {"0"}}
	const u = "https://muster.example/twilio/sms?org=acme"
	sig := Sign("s3cret", u, params)
	v := client.NewRequestValidator("s3cret")
	if !v.ValidateBody(u, []byte(params.Encode()), sig) {
		t.Fatalf("twilio-go RequestValidator rejects the fake's signature %q", sig)
	}
	if v.ValidateBody(u, []byte(params.Encode()+"&Extra=1"), sig) {
		t.Fatal("twilio-go RequestValidator accepts a tampered body")
	}
}
