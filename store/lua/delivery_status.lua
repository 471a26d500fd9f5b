-- Record a delivery status Twilio reported for a message or call muster
-- sent, in the audit log (the timeline of the task it was about shows
-- it). Each status of each message is recorded once, however often
-- Twilio retries the callback.
-- ARGV: now ms, provider id (SM.../CA...), status, error code ('' none),
--       failed ('1' when the status means the person was not reached),
--       how many days' hashes an id can be in (store.deliveryDays)
-- Returns JSON {result=ok|dup|unknown, task=, key=, channel=, to=}
-- An id is a field of the hash of the day it was sent (store/delivery.go:
-- task, key, channel, to and ref, joined by the unit separator); each
-- status recorded is a field "<id>|<status>" beside it. The days are
-- looked at from tomorrow back, so a callback minutes after the send
-- reads one or two.
local now, sid, status, code = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local today = math.floor(tonumber(now) / 86400000)
local dk, packed
for day = today + 1, today + 2 - tonumber(ARGV[6]), -1 do
  dk = P .. 'twilio:sids:' .. string.format('%d', day)
  packed = redis.call('HGET', dk, sid)
  if packed then break end
end
local m, seen = {}, nil
if packed then
  local from = 1
  for _ = 1, 5 do
    local at = string.find(packed, '\31', from, true)
    if not at then
      m[#m + 1] = string.sub(packed, from)
      from = string.len(packed) + 2
    else
      m[#m + 1] = string.sub(packed, from, at - 1)
      from = at + 1
    end
  end
  seen = redis.call('HSETNX', dk, sid .. '|' .. status, now)
else
  -- An id remembered before ids were kept by day had a key of its own
  -- (until it expires, DeliveryTTL after its send).
  local sk = P .. 'twilio:sid:' .. sid
  m = redis.call('HMGET', sk, 'task', 'key', 'channel', 'to', 'ref')
  if not m[3] then return cjson.encode({result = 'unknown'}) end
  seen = redis.call('HSETNX', sk, 'status:' .. status, now)
end
local res = {result = 'ok', task = m[1], key = m[2], channel = m[3], to = m[4]}
if seen == 0 then
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
