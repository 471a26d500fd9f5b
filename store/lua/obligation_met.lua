-- Record that the contact of one or more obligations of an incident was
-- told, and stop their clocks, in one step; with an SMS to the contact
-- (/incident send) the message is queued in the same step.
-- ARGV: now, num, actor, obligation ids JSON, reference, via
--       (notified|sms), audit data JSON of the send ('' when none),
--       messages JSON
-- Returns the ids met. An unknown obligation answers 'noobligation', one
-- already met 'state:met'.
local now, num, actor, ref, via = ARGV[1], ARGV[2], ARGV[3], ARGV[5], ARGV[6]
local k = P .. 'incident:' .. num
if redis.call('EXISTS', k) == 0 then
  return redis.error_reply('notfound')
end
local id = 'INC-' .. num
local hk = k .. ':obligations'
local met = {}
for _, oid in ipairs(cjson.decode(ARGV[4])) do
  local rec = redis.call('HGET', hk, oid)
  if not rec then return redis.error_reply('noobligation') end
  local o = cjson.decode(rec)
  if o.status == 'met' then return redis.error_reply('state:met') end
end
if ARGV[7] ~= '' then
  audit(now, 'obligation.sent', actor, id, ARGV[7])
end
for _, oid in ipairs(cjson.decode(ARGV[4])) do
  local o = cjson.decode(redis.call('HGET', hk, oid))
  o.status = 'met'
  o.met_at = tonumber(now)
  o.met_by = actor
  o.reference = ref
  o.via = via
  redis.call('HSET', hk, oid, cjson.encode(o))
  redis.call('ZREM', P .. 'otimers', num .. ':' .. oid)
  audit(now, 'obligation.met', actor, id, cjson.encode({obligation = oid, contact = o.contact, kind = o.kind,
    reference = ref, via = via, deadline = o.deadline, late = tonumber(now) > o.deadline}))
  met[#met + 1] = oid
end
local site = redis.call('HGET', k, 'site')
for _, m in ipairs(cjson.decode(ARGV[8])) do
  if not m.site or m.site == '' then m.site = site end
  enqueue(m, now, id)
end
changed(id)
return met
