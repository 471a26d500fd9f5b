-- Run one escalation step of a task, only if the task is still open, the
-- caller still holds the claim and the step is the one it expects: this
-- is where escalation and acknowledgement race, and exactly one wins.
-- ARGV: now, task num, claim token, expected step, new assignee ('' keeps),
--       wait ms before the next step ('' when this was the last step: the
--       task becomes unanswered), messages JSON, timeline text, audit data
--       JSON
-- The next step falls due a full wait after now, when this step ran, not
-- after this step's own deadline: a step that ran late (after an outage
-- or a lease take-over) still leaves the next person their whole wait.
local now, tn, token, s = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local tk = P .. 'task:' .. tn
local t = redis.call('HMGET', tk, 'status', 'claim', 'step', 'assignee', 'activation')
if not t[1] then
  redis.call('ZREM', P .. 'timers', tn)
  return 'gone'
end
if t[1] ~= 'open' then
  redis.call('ZREM', P .. 'timers', tn)
  return 'closed'
end
if t[2] ~= token then return 'stale' end
if t[3] ~= s then return 'stale' end

local old = t[4]
local who = old
if ARGV[5] ~= '' and ARGV[5] ~= old then
  who = ARGV[5]
  -- assignees keeps everyone the task was ever assigned to, so someone
  -- who was paged before a re-assignment may still acknowledge it.
  local hist = redis.call('HGET', tk, 'assignees')
  if not hist or hist == '' then hist = old or '' end
  if hist == '' then hist = who else hist = hist .. ',' .. who end
  redis.call('HSET', tk, 'assignee', who, 'assignees', hist)
  if old and old ~= '' then redis.call('ZREM', P .. 'tasks:open:' .. old, tn) end
  redis.call('ZADD', P .. 'tasks:open:' .. who, tn, tn)
  audit(now, 'task.reassigned', 'muster', 'T-' .. tn, cjson.encode({from = old, to = who, step = tonumber(s) + 1}))
end

for _, m in ipairs(cjson.decode(ARGV[7])) do
  enqueue(m, now)
end
redis.call('HDEL', tk, 'claim')
local kind = 'task.escalated'
if ARGV[6] == '' then
  redis.call('HSET', tk, 'status', 'unanswered', 'step', tonumber(s) + 1, 'unanswered_at', now)
  redis.call('ZREM', P .. 'timers', tn)
  redis.call('ZREM', P .. 'tasks:open:' .. who, tn)
  kind = 'task.unanswered'
else
  local next = string.format('%.0f', tonumber(now) + tonumber(ARGV[6]))
  redis.call('HSET', tk, 'step', tonumber(s) + 1, 'due', next)
  redis.call('ZADD', P .. 'timers', next, tn)
end
audit(now, kind, 'muster', 'T-' .. tn, ARGV[9])
changed('T-' .. tn)
return 'ok'
