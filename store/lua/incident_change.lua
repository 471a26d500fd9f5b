-- One script for every incident transition after the raise, so the state
-- check and the write are one atomic step.
-- ARGV: now, num, actor, action (update|acknowledge|resolve|hold|release),
--       text, audit data (JSON), messages JSON
-- Returns the incident's hash after the change (HGETALL), so the caller
-- reads nothing more. A hold of a held incident answers 'state:held', a
-- release of one not held 'state:not_held'.
local now, num, actor, action, text = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = P .. 'incident:' .. num
local status = redis.call('HGET', k, 'status')
if not status then
  return redis.error_reply('notfound')
end
local id = 'INC-' .. num
if action == 'update' then
  if status == 'resolved' then return redis.error_reply('state:' .. status) end
  redis.call('HSET', k, 'updated', now)
elseif action == 'acknowledge' then
  if status ~= 'open' then return redis.error_reply('state:' .. status) end
  redis.call('HSET', k, 'status', 'acknowledged', 'acked_by', actor, 'acked_at', now, 'updated', now)
elseif action == 'resolve' then
  if status == 'resolved' then return redis.error_reply('state:' .. status) end
  redis.call('HSET', k, 'status', 'resolved', 'resolved_by', actor, 'resolved_at', now,
    'summary', text, 'updated', now)
  redis.call('ZREM', P .. 'incidents:open', num)
elseif action == 'hold' then
  if redis.call('HGET', k, 'hold') == '1' then return redis.error_reply('state:held') end
  redis.call('HSET', k, 'hold', '1', 'updated', now)
elseif action == 'release' then
  if redis.call('HGET', k, 'hold') ~= '1' then return redis.error_reply('state:not_held') end
  redis.call('HDEL', k, 'hold')
  redis.call('HSET', k, 'updated', now)
else
  return redis.error_reply('unknown action ' .. action)
end
timeline(k .. ':timeline', now, actor, action, text)
audit(now, 'incident.' .. action, actor, id, ARGV[6])
changed(id)
local site = redis.call('HGET', k, 'site')
for _, m in ipairs(cjson.decode(ARGV[7])) do
  if not m.site or m.site == '' then m.site = site end
  enqueue(m, now, id)
end
return redis.call('HGETALL', k)
