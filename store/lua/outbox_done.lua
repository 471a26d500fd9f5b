-- Record the outcome of one send and take the message off its lane.
-- sent: an audit event says so (message.sent, about the record the
-- message names: a task's timeline shows it). failed (never retried: an
-- invalid number, a refusal, retries used up): the failure lands in the
-- audit log (and so the task's timeline). dropped (its task closed before it went
-- out): it leaves without a record, as the take drops such messages.
-- retry: the message goes back on its lane at the given time, if this
-- taker still holds it.
-- ARGV: now ms, message id, token, outcome (sent|failed|dropped|retry),
--       retry at ms, detail text
local now, id, token, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local mk = P .. 'outbox:m:' .. id
local m = redis.call('HMGET', mk, 'lane', 'task', 'channel', 'to', 'site', 'key', 'ref', 'claim', 'kind')
if not m[1] then return 'gone' end
local lane = P .. 'outbox:lane:' .. m[1]
if outcome == 'retry' then
  if m[8] ~= token then return 'stale' end
  redis.call('HSET', mk, 'last_error', ARGV[6])
  redis.call('HDEL', mk, 'claim')
  redis.call('ZADD', lane, ARGV[5], id)
  return 'ok'
end
if outcome == 'sent' then
  audit(now, 'message.sent', 'muster', m[7] or '', cjson.encode({key = m[6], channel = m[3], to = m[4], site = m[5],
    kind = m[9], task = m[2]}))
elseif outcome == 'failed' then
  audit(now, 'outbox.failed', 'muster', m[7] or '', cjson.encode({key = m[6], channel = m[3], to = m[4], site = m[5],
    kind = m[9], task = m[2], error = ARGV[6]}))
end
-- The chat surfaces that took it (store/surfaces.go) matter only while it
-- may be sent again.
redis.call('DEL', mk, P .. 'outbox:surfaces:' .. id)
redis.call('ZREM', lane, id)
return 'ok'
