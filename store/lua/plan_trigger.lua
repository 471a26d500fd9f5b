-- Trigger a plan: the activation (and drill), every task with its
-- assignee, each task's first escalation deadline, the broadcast, the
-- links and the audit events, all in one atomic step. The tasks' and the
-- activation's timelines are their audit events.
-- ARGV: now, activation JSON, tasks JSON array, messages JSON array,
--       audit data JSON
local now = ARGV[1]
local a = cjson.decode(ARGV[2])
local tasks = cjson.decode(ARGV[3])
local msgs = cjson.decode(ARGV[4])

if a.incident and a.incident ~= '' then
  local st = redis.call('HGET', P .. 'incident:' .. a.incident, 'status')
  if not st then return redis.error_reply('notfound') end
end

local an = redis.call('INCR', P .. 'seq:activation')
local aid = 'A-' .. an
local ak = P .. 'activation:' .. an
local dn = ''
if a.drill == '1' then
  dn = redis.call('INCR', P .. 'seq:drill')
  redis.call('HSET', P .. 'drill:' .. dn, 'id', 'D-' .. dn, 'num', dn, 'plan', a.plan,
    'site', a.site, 'activation', an, 'started_by', a.by, 'started', now, 'status', 'running',
    'target', a.target or '0')
  redis.call('ZADD', P .. 'drills', dn, dn)
end

local nums = {}
for i, t in ipairs(tasks) do
  local tn = redis.call('INCR', P .. 'seq:task')
  nums[i] = tn
  local tk = P .. 'task:' .. tn
  local status = 'open'
  if t.simulated == '1' then status = 'simulated' end
  redis.call('HSET', tk, 'id', 'T-' .. tn, 'num', tn, 'activation', an, 'plan', a.plan,
    'title', t.title, 'role', t.role, 'policy', t.policy, 'site', a.site,
    'assignee', t.assignee, 'assignees', t.assignee, 'status', status, 'step', 0, 'due', now,
    'created', now, 'drill', dn, 'live_only', t.live_only or '')
  if status == 'open' then
    redis.call('ZADD', P .. 'timers', now, tn)
    if t.assignee ~= '' then
      redis.call('ZADD', P .. 'tasks:open:' .. t.assignee, tn, tn)
    end
  end
  audit(now, 'task.assigned', a.by, 'T-' .. tn, cjson.encode({activation = aid, assignee = t.assignee,
    title = t.title, role = t.role, status = status, note = t.note}))
end

redis.call('HSET', ak, 'id', aid, 'num', an, 'plan', a.plan, 'plan_version', a.version,
  'plan_name', a.name, 'site', a.site, 'triggered_by', a.by, 'note', a.note or '',
  'status', 'active', 'created', now, 'drill', dn, 'incident', a.incident or '',
  'tasks', table.concat(nums, ','), 'target', a.target or '0')
redis.call('ZADD', P .. 'activations', an, an)
redis.call('SADD', P .. 'activations:active', an)
local kind = 'plan.triggered'
if dn ~= '' then kind = 'drill.started' end
audit(now, kind, a.by, aid, ARGV[5])
if a.incident and a.incident ~= '' then
  local ik = P .. 'incident:' .. a.incident
  redis.call('HSET', ik, 'activation', aid, 'updated', now)
  timeline(ik .. ':timeline', now, a.by, 'plan', aid .. ' ' .. a.name .. ' triggered')
  changed('INC-' .. a.incident)
end

for _, m in ipairs(msgs) do
  m.ref = aid
  enqueue(m, now)
end
changed(aid)
wake(now)
return {an, tostring(dn), unpack(nums)}
