-- Record a plan activation that degraded mode made while Redis was
-- unreachable (its broadcast and SMS call-out already went out directly,
-- see store/journal): the activation, its tasks (open, or acknowledged when
-- the journal says so) and the audit events (the records' timelines, which
-- say they were created in degraded mode), all in one atomic step with a
-- marker for the journal entry. The marker (SET NX, kept forever) makes a
-- second replay of the same entry, from this process or another replica,
-- a no-op that returns the activation the first one wrote.
-- ARGV: now, journal entry id, activation JSON, tasks JSON array,
--       (unused), audit data JSON (which says what was sent)
local now, jid = ARGV[1], ARGV[2]
local a = cjson.decode(ARGV[3])
local tasks = cjson.decode(ARGV[4])

local mk = P .. 'degraded:' .. jid
if not redis.call('SET', mk, 'replaying', 'NX') then
  return {0, redis.call('GET', mk)}
end

local an = redis.call('INCR', P .. 'seq:activation')
local aid = 'A-' .. an
local ak = P .. 'activation:' .. an
local at = a.at
local how = 'created in degraded mode while records were unavailable (journal ' .. jid .. ')'

local nums = {}
local open = false
for i, t in ipairs(tasks) do
  local tn = redis.call('INCR', P .. 'seq:task')
  nums[i] = tn
  local tk = P .. 'task:' .. tn
  local status = 'open'
  if t.acked_by and t.acked_by ~= '' then status = 'acknowledged' end
  redis.call('HSET', tk, 'id', 'T-' .. tn, 'num', tn, 'activation', an, 'plan', a.plan,
    'title', t.title, 'role', t.role, 'policy', t.policy, 'site', a.site,
    'assignee', t.assignee, 'assignees', t.assignee, 'status', status, 'step', 0, 'due', now,
    'created', at, 'drill', '', 'live_only', t.live_only or '', 'degraded', jid)
  audit(now, 'task.assigned', a.by, 'T-' .. tn, cjson.encode({activation = aid, assignee = t.assignee,
    title = t.title, role = t.role, status = 'open', degraded = jid, note = t.note, at = at,
    sent = t.sent or 'nothing sent'}))
  if status == 'acknowledged' then
    redis.call('HSET', tk, 'acked_by', t.acked_by, 'acked_at', t.acked_at, 'ack_note', t.ack_note or '')
    audit(now, 'task.ack', t.acked_by, 'T-' .. tn, cjson.encode({note = t.ack_note or '', degraded = jid,
      acked_at = t.acked_at}))
  else
    -- Escalation resumes now: step 0 runs at once, so the assignee gets
    -- the task's notice with its number (T-n) to acknowledge.
    open = true
    redis.call('ZADD', P .. 'timers', now, tn)
    if t.assignee ~= '' then
      redis.call('ZADD', P .. 'tasks:open:' .. t.assignee, tn, tn)
    end
  end
end

redis.call('HSET', ak, 'id', aid, 'num', an, 'plan', a.plan, 'plan_version', a.version,
  'plan_name', a.name, 'site', a.site, 'triggered_by', a.by, 'note', a.note or '',
  'status', 'active', 'created', at, 'drill', '', 'incident', '',
  'tasks', table.concat(nums, ','), 'target', a.target or '0', 'degraded', jid)
redis.call('ZADD', P .. 'activations', an, an)
redis.call('SADD', P .. 'activations:active', an)
audit(now, 'plan.triggered', a.by, aid, ARGV[6])
if a.incident and a.incident ~= '' then
  local ik = P .. 'incident:' .. a.incident
  if redis.call('EXISTS', ik) == 1 then
    redis.call('HSET', ak, 'incident', a.incident)
    redis.call('HSET', ik, 'activation', aid, 'updated', now)
    timeline(ik .. ':timeline', at, a.by, 'plan', aid .. ' ' .. a.name .. ' triggered (' .. how .. ')')
    changed('INC-' .. a.incident)
  end
end
redis.call('SET', mk, aid)
changed(aid)
if open then wake(now) end
return {1, aid, unpack(nums)}
