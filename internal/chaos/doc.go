// Package chaos holds muster's chaos tests: several `muster serve`
// processes (the real binary, built once) share one real Redis (a
// redis-server with AOF on; a Cluster or a Sentinel with replicas for the
// failover drills), in front of the fake Twilio and the fake Slack; the test
// triggers plans through the replicas' signed Slack routes, kills
// replicas with SIGKILL mid-escalation and mid-call-out, restarts Redis
// on its append-only file, makes the fakes fail and throttle, and then
// checks from the records and the fakes that every escalation step
// happened exactly once, that no message was lost or sent twice, and
// that the audit chain verifies (`muster audit verify`).
//
// The tests run only with MUSTER_CHAOS=1 (make chaos, which .ci/run
// runs), and need redis-server on the PATH; otherwise they skip with a
// message. Each is bounded to well under two minutes; together they take
// about two.
//
// What muster guarantees, and so what the tests assert: an escalation
// step is recorded exactly once (a claim whose process died is taken
// over after engine.lease, and the step script runs only for the claim's
// holder at the expected step), and a message goes out exactly once. Its
// provider takes no idempotency key (Twilio's Messages and Calls APIs,
// Slack's chat.postMessage), so a message whose process died after the
// provider accepted it but before the outcome was recorded is looked up
// at the provider before it is sent again (Discord's posts carry a nonce
// instead). TestChaosReplicasRedisAndVendors kills only outside that
// window, so its verdict does not depend on timing: a replica is killed
// with its requests held at the doors of the fakes (in flight, not yet
// accepted, which muster must deliver exactly once) once every request a
// vendor accepted has its outcome recorded; Redis is killed with every
// door held the same way, and the requests held through the outage are
// refused with a 503 the vendor never saw, so they are retried.
// TestChaosChatInFlight kills inside the window on purpose: the door
// passes the replica's chat posts to the fake Slack and holds Slack's
// answers, and the replica dies with them held; the replica that takes
// over must find each post and post none twice.
//
// The other drills: TestChaosClusterMasterKilled and
// TestChaosSentinelPrimaryKilled kill Redis's primary mid-escalation and
// fail unless every replica records a command within 10 s of Redis
// promoting a replica (what a failover loses is printed, not failed on:
// Redis replicates asynchronously); TestChaosOutageKeepsEveryWait keeps
// Redis down longer than a step's wait and fails on any step that waited
// less than its policy's wait after the step before it ran.
package chaos
