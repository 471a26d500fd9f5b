-- Read an activation and its tasks in one round trip (and, for a drill,
-- the drill first): /plan status and /drill report read nothing else.
-- ARGV: what ('activation' | 'latest' | 'drill'), num (ignored for latest)
-- Returns {drill hash (empty unless a drill), activation hash, task hash,
-- task hash, ...} as flat HGETALL lists; missing tasks are skipped.
-- 'notfound' when the drill or activation does not exist.
local what, num = ARGV[1], ARGV[2]
local drill = {}
if what == 'drill' then
  drill = redis.call('HGETALL', P .. 'drill:' .. num)
  if #drill == 0 then return redis.error_reply('notfound') end
  num = redis.call('HGET', P .. 'drill:' .. num, 'activation')
  if not num then return redis.error_reply('notfound') end
elseif what == 'latest' then
  local newest = redis.call('ZREVRANGE', P .. 'activations', 0, 0)
  if not newest[1] then return redis.error_reply('notfound') end
  num = newest[1]
end
local act = redis.call('HGETALL', P .. 'activation:' .. num)
if #act == 0 then return redis.error_reply('notfound') end
local out = {drill, act}
local tasks = redis.call('HGET', P .. 'activation:' .. num, 'tasks') or ''
for tn in string.gmatch(tasks, '[^,]+') do
  local t = redis.call('HGETALL', P .. 'task:' .. tn)
  if #t > 0 then out[#out + 1] = t end
end
return out
