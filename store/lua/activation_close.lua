-- Stand an activation down (or stop a drill): close it, cancel every task
-- still open and remove their deadlines, in one step. Each cancelled task
-- gets its own audit event (its timeline's last entry).
-- ARGV: now, activation num, actor, note, audit kind, audit data JSON,
--       messages JSON (optional; their text may hold '\1N\1', replaced
--       by the number of tasks cancelled)
local now, an, actor, note = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ak = P .. 'activation:' .. an
local a = redis.call('HMGET', ak, 'status', 'tasks', 'drill')
if not a[1] then return redis.error_reply('notfound') end
if a[1] ~= 'active' then return redis.error_reply('state:' .. a[1]) end
redis.call('HSET', ak, 'status', 'stood_down', 'closed_at', now, 'closed_by', actor)
redis.call('SREM', P .. 'activations:active', an)
local cancelled = 0
for tn in string.gmatch(a[2] or '', '[^,]+') do
  local tk = P .. 'task:' .. tn
  local t = redis.call('HMGET', tk, 'status', 'assignee')
  if t[1] == 'open' then
    redis.call('HSET', tk, 'status', 'cancelled', 'cancelled_at', now)
    redis.call('HDEL', tk, 'claim')
    redis.call('ZREM', P .. 'timers', tn)
    if t[2] and t[2] ~= '' then redis.call('ZREM', P .. 'tasks:open:' .. t[2], tn) end
    audit(now, 'task.cancelled', actor, 'T-' .. tn, cjson.encode({activation = 'A-' .. an, note = 'stood down'}))
    changed('T-' .. tn)
    cancelled = cancelled + 1
  end
end
if a[3] and a[3] ~= '' then
  redis.call('HSET', P .. 'drill:' .. a[3], 'status', 'stopped', 'stopped', now, 'stopped_by', actor)
end
audit(now, ARGV[5], actor, 'A-' .. an, ARGV[6])
changed('A-' .. an)
if ARGV[7] and ARGV[7] ~= '' then
  local site = redis.call('HGET', ak, 'site')
  for _, m in ipairs(cjson.decode(ARGV[7])) do
    if not m.site or m.site == '' then m.site = site end
    local ph, n = '\1N\1', tostring(cancelled)
    local i = string.find(m.text or '', ph, 1, true)
    while i do
      m.text = string.sub(m.text, 1, i - 1) .. n .. string.sub(m.text, i + string.len(ph))
      i = string.find(m.text, ph, 1, true)
    end
    enqueue(m, now, 'A-' .. an)
  end
end
return cancelled
