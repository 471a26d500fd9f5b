// Package chaos holds muster's chaos tests: several `muster serve`
// processes (the real binary, built once) share one real redis-server
// with AOF on, in front of the fake Twilio and the fake Slack; the test
// triggers plans through the replicas' signed Slack routes, kills
// replicas with SIGKILL mid-escalation and mid-call-out, restarts Redis
// on its append-only file, makes the fakes fail and throttle, and then
// checks from the records and the fakes that every escalation step
// happened exactly once, that no message was lost or sent twice, and
// that the audit chain verifies (`muster audit verify`).
//
// The tests run only with MUSTER_CHAOS=1 (make chaos, which .ci/run
// runs), and need redis-server on the PATH; otherwise they skip with a
// message. Each is bounded to well under two minutes.
//
// What muster guarantees, and so what the tests assert: an escalation
// step is recorded exactly once (a claim whose process died is taken
// over after engine.lease, and the step script runs only for the claim's
// holder at the expected step), and a message goes out exactly once
// unless its process dies while the provider has accepted the request
// but before the outcome is recorded: Twilio's Messages and Calls APIs
// take no idempotency key (nor does Slack's chat.postMessage), so that
// window is at least once. The tests never kill inside it, so their
// verdict does not depend on timing: a replica is killed with its
// requests held at the doors of the fakes (in flight, not yet accepted,
// which muster must deliver exactly once) once every request a vendor
// accepted has its outcome recorded; Redis is killed with every door
// held the same way, and the requests held through the outage are
// refused with a 503 the vendor never saw, so they are retried. A
// duplicate is still told apart and reported with its cause.
package chaos
