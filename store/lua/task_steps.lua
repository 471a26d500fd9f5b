-- Run a batch of escalation steps, each only if its task is still open,
-- the caller's claim still holds (the task's timer is still at the end of
-- the lease the caller claimed it until: a stale claimer's lease end is
-- not the score any more) and the step is the one it expects. This is
-- where escalation and acknowledgement race, and exactly one wins: each
-- step's check and writes run together in this one script.
-- A step writes only what it must: the task's step and next deadline, the
-- timer, its audit event (which is also the task's timeline entry) and
-- its messages. The idempotency marks other enqueues set are not needed
-- here: a step runs once, so its messages are queued once. The chat
-- cards are told only when what they show changes (a new assignee, the
-- task unanswered).
-- ARGV: now, number of steps, then per step: task num, expected step,
--       lease end ms (the claim), new assignee ('' keeps), wait ms before
--       the next step ('' when this was the last step: the task becomes
--       unanswered), audit data JSON, incident JSON ('' for none: the step
--       raises an incident {site, category, severity, reporter, text,
--       data}, whose id fills the messages' id placeholder), the status
--       that ends the task instead of unanswered when there is no next
--       step ('' for unanswered), number of
--       messages, then per message the message as JSON (store.OutMessage),
--       which its outbox entry keeps as it is (field m): one argument and
--       one field instead of nine each
-- The next step falls due a full wait after now, when this step ran, not
-- after this step's own deadline: a step that ran late (after an outage
-- or a lease take-over) still leaves the next person their whole wait.
-- Returns one result per step: ok, gone, closed or stale.
local now = ARGV[1]
local out = {}
local i = 3
for r = 1, tonumber(ARGV[2]) do
  local tn, s, fence, newWho, wait, data = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local inc, close = ARGV[i + 6], ARGV[i + 7]
  local nmsgs = tonumber(ARGV[i + 8])
  local m0 = i + 9
  i = m0 + nmsgs
  local tk = P .. 'task:' .. tn
  local t = redis.call('HMGET', tk, 'status', 'step', 'assignee')
  local res = 'ok'
  if not t[1] then
    redis.call('ZREM', P .. 'timers', tn)
    res = 'gone'
  elseif t[1] ~= 'open' then
    redis.call('ZREM', P .. 'timers', tn)
    res = 'closed'
  elseif t[2] ~= s or tonumber(redis.call('ZSCORE', P .. 'timers', tn) or '-1') ~= tonumber(fence) then
    res = 'stale'
  else
    local old = t[3]
    local who = old
    local changedCard = false
    if newWho ~= '' and newWho ~= old then
      who = newWho
      -- assignees keeps everyone the task was ever assigned to, so someone
      -- who was paged before a re-assignment may still acknowledge it.
      local hist = redis.call('HGET', tk, 'assignees')
      if not hist or hist == '' then hist = old or '' end
      if hist == '' then hist = who else hist = hist .. ',' .. who end
      redis.call('HSET', tk, 'assignee', who, 'assignees', hist)
      if old and old ~= '' then redis.call('ZREM', P .. 'tasks:open:' .. old, tn) end
      redis.call('ZADD', P .. 'tasks:open:' .. who, tn, tn)
      audit(now, 'task.reassigned', 'muster', 'T-' .. tn, cjson.encode({from = old, to = who, step = tonumber(s) + 1}))
      changedCard = true
    end
    local incid
    if inc ~= '' then
      local r = cjson.decode(inc)
      incid = 'INC-' .. raise(now, r.site, r.category, r.severity, r.reporter, r.text, r.data)
      redis.call('HSET', tk, 'incident', string.sub(incid, 5))
      -- The step's event names the incident it raised (appended to the
      -- JSON object as text: decoding and encoding it again would turn
      -- its empty lists into objects).
      if data == '' or data == '{}' then
        data = '{"incident":"' .. incid .. '"}'
      else
        data = string.sub(data, 1, -2) .. ',"incident":"' .. incid .. '"}'
      end
    end
    for j = m0, i - 1 do
      local m = ARGV[j]
      if incid then m = fillid(m, incid, '\\u0001ID\\u0001') end
      redis.call('XADD', P .. 'outbox', '*', 'm', m, 'queued', now)
    end
    local kind = 'task.escalated'
    if wait == '' and close ~= '' then
      -- A lone-worker session that reached its end (its shift's, or
      -- the one it was given): it ends, nobody is reminded any more.
      redis.call('HSET', tk, 'status', close, 'ended_at', now)
      redis.call('ZREM', P .. 'timers', tn)
      redis.call('ZREM', P .. 'checkins:active', tn)
      if redis.call('GET', P .. 'checkin:active:' .. who) == tn then redis.call('DEL', P .. 'checkin:active:' .. who) end
      kind = 'checkin.ended'
      changedCard = true
    elseif wait == '' then
      redis.call('HSET', tk, 'status', 'unanswered', 'step', tonumber(s) + 1, 'unanswered_at', now)
      redis.call('ZREM', P .. 'timers', tn)
      redis.call('ZREM', P .. 'tasks:open:' .. who, tn)
      kind = 'task.unanswered'
      changedCard = true
    else
      local next = string.format('%.0f', tonumber(now) + tonumber(wait))
      redis.call('HSET', tk, 'step', tonumber(s) + 1, 'due', next)
      redis.call('ZADD', P .. 'timers', next, tn)
    end
    audit(now, kind, 'muster', 'T-' .. tn, data)
    if changedCard then changed('T-' .. tn) end
  end
  out[r] = res
end
return out
