// Package fakediscord is a fake of the Discord REST API (v9/v10) for tests. A *Server is an
// http.Handler: serve it with httptest.NewServer.
//
// It answers the routes muster uses, under /api/v{N}/ for any version N, with Discord's paths,
// JSON shapes, status codes and error bodies ({"message": "...", "code": N}):
//
//	POST  /channels/{channel}/messages                           (bot)  send a message
//	PATCH /channels/{channel}/messages/{message}                 (bot)  edit it
//	POST  /users/@me/channels                                    (bot)  open a DM channel
//	GET   /users/@me                                             (bot)  the bot user
//	PUT   /applications/{app}/commands                           (bot)  overwrite global commands
//	PUT   /applications/{app}/guilds/{guild}/commands            (bot)  overwrite guild commands
//	POST  /interactions/{interaction}/{token}/callback                  answer an interaction
//	GET   /webhooks/{app}/{token}/messages/@original                    the original response
//	PATCH /webhooks/{app}/{token}/messages/{@original|message}          edit a response
//	POST  /webhooks/{app}/{token}                                       send a followup
//
// Bot routes require "Authorization: Bot <token>" and answer 401 {"message": "401:
// Unauthorized", "code": 0} otherwise; interaction and webhook routes need no authorization,
// as on Discord, because the interaction token authorizes them.
//
// A message create may carry a nonce (a string or an integer, at most 25 characters); with
// enforce_nonce true, a create whose nonce the bot used within NonceWindow answers the message
// created then and creates nothing, as Discord does.
//
// Message payloads may be JSON or multipart/form-data with a payload_json part (what discordgo
// sends when files are attached). The fake records content, embeds, components and
// allowed_mentions as raw JSON, so a test can tell "allowed_mentions":{"parse":[]} from a
// missing or null one.
//
// For HTTP interactions (the bot's own /discord/interactions endpoint), SendInteraction plays
// Discord: it signs an interaction with Ed25519 and posts it to the bot, and records the bot's
// answer as the interaction's response, so later edits of @original and followups work.
//
// # Pointing a client at the fake
//
// discordgo (v0.29) builds URLs from package-level variables derived from EndpointDiscord
// (https://discord.com/) at package initialisation; reassigning EndpointDiscord later changes
// nothing, and reassigning the derived variables changes them for every session in the
// process. Prefer a RoundTripper that rewrites the scheme and host of every request to the
// fake's URL and keeps the path:
//
//	fake := fakediscord.New(token, appID)
//	srv := httptest.NewServer(fake)
//	s, _ := discordgo.New("Bot " + token)
//	s.Client = &http.Client{Transport: rewriteTo(srv.URL)} // a RoundTripper: scheme+host := srv's
//
// discordgo's Open (the gateway websocket) connects to a Gateway (NewGateway), served on its
// own test server and announced by EnableGateway; it dispatches no events.
//
// Everything the fake receives is recorded (Messages, Callbacks, CommandSets, DMChannels,
// Requests); tests wait for conditions with WaitFor and friends, which block on change
// notifications rather than polling.
package fakediscord
