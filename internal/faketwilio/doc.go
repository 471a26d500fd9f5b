// Package faketwilio is a fake of the Twilio REST API (2010-04-01) for tests, in the spirit of
// GoAlert's devtools/mocktwilio. A *Server is an http.Handler: serve it with httptest.NewServer.
//
// It answers the two resources muster uses, with Twilio's paths, form fields, status codes and
// JSON shapes:
//
//	POST /2010-04-01/Accounts/{AccountSid}/Messages.json
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages.json (To, From, DateSent filters, pages)
//	POST /2010-04-01/Accounts/{AccountSid}/Calls.json
//	GET  /2010-04-01/Accounts/{AccountSid}/Calls.json (To, From, Status, StartTime filters, pages)
//
// and it plays Twilio's side of the webhooks: status callbacks, inbound SMS and voice <Gather>
// results, each signed with X-Twilio-Signature exactly as Twilio signs them (see Sign).
//
// # Pointing a client at the fake
//
// twilio-go (v1.31) builds every URL from the fixed base https://api.twilio.com, so a client
// reaches the fake through its HTTP client: give the *client.Client an http.Client whose
// RoundTripper rewrites the scheme and host of each request to the fake's URL and keeps the
// path. The fake's tests show such a RoundTripper. Authentication is HTTP Basic with the
// account SID and auth token given to New (or an API key added with AddAPIKey).
//
// Everything the fake receives is recorded; tests read the records (Messages, Calls,
// Requests, Callbacks) and wait for conditions with WaitFor and friends, which block on change
// notifications rather than polling.
package faketwilio
