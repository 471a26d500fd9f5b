// Package fakeslack is a fake of the Slack Web API for tests. A *Server is an http.Handler:
// serve it with httptest.NewServer.
//
// It answers, under /api/, the methods muster uses, with Slack's argument names, errors and
// JSON shapes: chat.postMessage, chat.update, chat.postEphemeral, conversations.open,
// conversations.history, conversations.replies, auth.test and apps.connections.open. Posts
// keep their message metadata, which conversations.history and conversations.replies return
// with include_all_metadata, and their timestamps follow the fake's clock (SetClock), so a
// look-up by time finds them. Socket Mode is off until EnableSocketMode: then
// apps.connections.open with the app-level token hands out a ws:// URL on the fake, and
// SendSlashCommand and SendInteraction push envelopes down the connection and return the
// client's acknowledgement (otherwise it answers not_allowed_token_type to the bot token). Like Slack it answers errors with HTTP 200 and {"ok":false,"error":"..."}, except a
// rate limit, which is a 429 with a Retry-After header in seconds.
//
// Arguments may come form-encoded (what slack-go v0.35 sends for every method above) or as
// JSON. The bot token may come as "Authorization: Bearer <token>" or, in a form body, as the
// token argument: slack-go v0.35 sends it in the form and sets no header. A request without a
// token gets "not_authed", a wrong one "invalid_auth".
//
// It also serves slash-command and interaction response URLs under /response/{id}: ResponseURL
// makes one, and Responses records what was posted to them.
//
// # Pointing a client at the fake
//
//	fake := fakeslack.New("xoxb-test")
//	srv := httptest.NewServer(fake)
//	api := slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/api/"))
//
// Hold keeps calls waiting before the fake acts on them (nothing happened yet); HoldAnswers
// keeps the answers to posts it has made (they happened; the caller does not know).
//
// Everything the fake receives is recorded (Posts, Responses, Requests); tests wait for
// conditions with WaitFor and friends, which block on change notifications rather than polling.
package fakeslack
