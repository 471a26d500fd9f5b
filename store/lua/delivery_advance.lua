-- Move a task's escalation to its next step now, because the step that
-- just ran could not reach the person (an invalid number, an undelivered
-- SMS, an unanswered call). Only if the task is still open, still waiting
-- to run `step` (no later step has run meanwhile) and no engine holds a
-- claim on it: otherwise the escalation has already moved on, or the task
-- is closed, and nothing changes. The engine that claims the timer runs
-- the step as it runs any other.
-- ARGV: now ms, task num, step expected next, reason
-- Returns ok | closed | moved | running | due | gone
local now, tn, s, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local tk = P .. 'task:' .. tn
local t = redis.call('HMGET', tk, 'status', 'step', 'due')
if not t[1] then return 'gone' end
if t[1] ~= 'open' then return 'closed' end
if t[2] ~= s then return 'moved' end
local due = redis.call('ZSCORE', P .. 'timers', tn)
if not due then return 'closed' end
if tonumber(due) <= tonumber(now) then return 'due' end
-- A step already due whose timer sits in the future is claimed: an
-- engine holds it until its lease ends, and is running it.
if tonumber(t[3] or '0') <= tonumber(now) then return 'running' end
redis.call('ZADD', P .. 'timers', now, tn)
redis.call('HSET', tk, 'due', now)
audit(now, 'task.advanced', 'muster', 'T-' .. tn, cjson.encode({step = tonumber(s), reason = reason}))
changed('T-' .. tn)
wake(now)
return 'ok'
