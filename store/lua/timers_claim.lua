-- Claim due timers with a lease. Each claimed task's deadline is pushed to
-- the end of the lease: if this process dies, the timer falls due again
-- when the lease ends and another process takes it over. The lease end
-- is the claim: a step is recorded only while the timer is still there
-- (task_steps.lua), so a stale claimer's later write is refused, since a
-- take-over moved the timer to a later lease end.
-- Each claim reports the step's scheduled due time (the task's `due`),
-- not the timer's score: after a take-over the score is the dead
-- claimer's lease end, and the step's lateness is measured from its
-- deadline. (The next step is scheduled from when this one runs.)
-- Each claim also carries the task's fields a step reads (ClaimFields),
-- so the engine needs no further read to run the step. It runs for every deadline that falls
-- due, so it reads each task once and moves the timers in one command
-- per thousand.
-- ARGV: now, lease_until, limit
-- Returns a flat list of (task num, due ms, {the fields' values}).
local due = redis.call('ZRANGEBYSCORE', P .. 'timers', '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local now = tonumber(ARGV[1])
local out, held = {}, {}
-- hold moves the claimed timers to the end of the lease, many in one
-- command (in chunks: unpack takes some thousands of values at most).
local function hold()
  if #held > 0 then redis.call('ZADD', P .. 'timers', unpack(held)) end
  held = {}
end
for i = 1, #due, 2 do
  local tn, score = due[i], due[i + 1]
  local tk = P .. 'task:' .. tn
  local rec = redis.call('HMGET', tk, 'num', 'status', 'step', 'policy', 'site', 'assignee', 'drill', 'title', 'plan', 'due', 'kind', 'ref', 'until', 'last', 'note')
  if not rec[1] then
    -- The task is gone: drop its timer.
    redis.call('ZREM', P .. 'timers', tn)
  else
    held[#held + 1] = ARGV[2]
    held[#held + 1] = tn
    if #held >= 1000 then hold() end
    local d = tonumber(rec[10])
    if d and d <= tonumber(score) and d <= now then score = tostring(d) end
    out[#out + 1] = tn
    out[#out + 1] = score
    out[#out + 1] = rec
  end
end
hold()
return out
