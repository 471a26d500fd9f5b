-- ARGV: now, site, category, severity, reporter, text, audit data (JSON),
--       messages JSON (their text may hold the id placeholder)
local now = ARGV[1]
local n = redis.call('INCR', P .. 'seq:incident')
local id = 'INC-' .. n
local k = P .. 'incident:' .. n
redis.call('HSET', k, 'id', id, 'num', n, 'site', ARGV[2], 'category', ARGV[3],
  'severity', ARGV[4], 'reporter', ARGV[5], 'text', ARGV[6], 'status', 'open',
  'created', now, 'updated', now)
redis.call('ZADD', P .. 'incidents', n, n)
redis.call('ZADD', P .. 'incidents:open', n, n)
timeline(k .. ':timeline', now, ARGV[5], 'raised', ARGV[6])
audit(now, 'incident.raised', ARGV[5], id, ARGV[7])
changed(id)
for _, m in ipairs(cjson.decode(ARGV[8])) do enqueue(m, now, id) end
return n
