-- Change an incident's severity and start the clocks of the obligations
-- the new severity matches, in one step.
-- ARGV: now, num, actor, severity, obligations JSON, messages JSON
-- Returns {the incident's hash after the change, clocks started}. The
-- same severity answers 'state:<severity>', a resolved incident
-- 'state:resolved'.
local now, num, actor, sev = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local k = P .. 'incident:' .. num
local cur = redis.call('HMGET', k, 'status', 'severity')
if not cur[1] then
  return redis.error_reply('notfound')
end
if cur[1] == 'resolved' then return redis.error_reply('state:resolved') end
if cur[2] == sev then return redis.error_reply('state:' .. sev) end
local id = 'INC-' .. num
local text = (cur[2] or '') .. ' -> ' .. sev
redis.call('HSET', k, 'severity', sev, 'updated', now)
timeline(k .. ':timeline', now, actor, 'severity', text)
audit(now, 'incident.severity', actor, id, cjson.encode({text = text, from = cur[2], to = sev}))
local started = startObligations(num, cjson.decode(ARGV[5]), now, actor)
changed(id)
local site = redis.call('HGET', k, 'site')
for _, m in ipairs(cjson.decode(ARGV[6])) do
  if not m.site or m.site == '' then m.site = site end
  enqueue(m, now, id)
end
return {redis.call('HGETALL', k), started}
