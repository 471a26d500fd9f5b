-- Record a delivery status Twilio reported for a message or call muster
-- sent, in the audit log (the timeline of the task it was about shows
-- it). Each status of each message is recorded once, however often
-- Twilio retries the callback.
-- ARGV: now ms, provider id (SM.../CA...), status, error code ('' none),
--       failed ('1' when the status means the person was not reached)
-- Returns JSON {result=ok|dup|unknown, task=, key=, channel=, to=}
local now, sid, status, code = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local sk = P .. 'twilio:sid:' .. sid
local m = redis.call('HMGET', sk, 'task', 'key', 'channel', 'to', 'ref')
if not m[3] then return cjson.encode({result = 'unknown'}) end
local res = {result = 'ok', task = m[1], key = m[2], channel = m[3], to = m[4]}
if redis.call('HSETNX', sk, 'status:' .. status, now) == 0 then
  res.result = 'dup'
  return cjson.encode(res)
end
-- Every status is audited (a task's timeline shows its messages'); one
-- that means the person was not reached is delivery.failed.
local kind = 'delivery.status'
if ARGV[5] == '1' then
  kind = 'delivery.failed'
  if m[1] ~= '' then changed('T-' .. m[1]) end
end
audit(now, kind, 'twilio', m[5] or '', cjson.encode({sid = sid, status = status, code = code, channel = m[3], to = m[4],
  task = m[1]}))
return cjson.encode(res)
