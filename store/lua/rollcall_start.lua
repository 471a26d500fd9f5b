-- Start a roll call, or add people to an open one (someone who came on
-- duty while it runs). Each person's "Are you safe?" is a task of kind
-- rollcall whose first escalation step (the question itself) is due now,
-- so the engine asks, reminds and tells by the roll-call policy with the
-- same timers, leases and outbox as any task. The roll call, its people,
-- their tasks, their deadlines, the tally cards and the audit events are
-- written together: a roll call is never half started.
-- ARGV: now, roll call JSON {num (0: new), sites, by, note, drill, policy},
--       people JSON [{person, site}], messages JSON (tally cards; their
--       text may hold the id placeholder), audit data JSON
-- Returns {roll call num, then per person added: person, task num}.
-- Refusals: 'notfound' (no such roll call), 'state:<status>' (not open).
local now = ARGV[1]
local rc = cjson.decode(ARGV[2])
local people = cjson.decode(ARGV[3])
local msgs = cjson.decode(ARGV[4])
local rn = tonumber(rc.num) or 0
local joining = rn > 0
local rk
if joining then
  rk = P .. 'rollcall:' .. rn
  local st = redis.call('HMGET', rk, 'status', 'drill', 'policy', 'by')
  if not st[1] then return redis.error_reply('notfound') end
  if st[1] ~= 'open' then return redis.error_reply('state:' .. st[1]) end
  rc.drill, rc.policy, rc.by = st[2], st[3], st[4]
else
  rn = redis.call('INCR', P .. 'seq:rollcall')
  rk = P .. 'rollcall:' .. rn
  redis.call('HSET', rk, 'id', 'R-' .. rn, 'num', rn, 'sites', rc.sites, 'by', rc.by, 'note', rc.note or '',
    'drill', rc.drill or '', 'policy', rc.policy or '', 'status', 'open', 'created', now,
    'total', 0, 'safe', 0, 'help', 0)
  redis.call('ZADD', P .. 'rollcalls', rn, rn)
  redis.call('SADD', P .. 'rollcalls:open', rn)
end
local rid = 'R-' .. rn
local pk = rk .. ':people'
local out = {rn}
local added = 0
for _, p in ipairs(people) do
  if redis.call('HEXISTS', pk, p.person) == 0 then
    local tn = redis.call('INCR', P .. 'seq:task')
    redis.call('HSET', P .. 'task:' .. tn, 'id', 'T-' .. tn, 'num', tn, 'kind', 'rollcall', 'ref', rid,
      'title', 'Roll call ' .. rid, 'policy', rc.policy or '', 'site', p.site, 'assignee', p.person,
      'assignees', p.person, 'status', 'open', 'step', 0, 'due', now, 'created', now, 'drill', rc.drill or '')
    redis.call('HSET', pk, p.person, tn)
    redis.call('ZADD', P .. 'timers', now, tn)
    redis.call('ZADD', P .. 'rollcall:open:' .. p.person, rn, tn)
    local why = 'on duty'
    if joining then why = 'came on duty' end
    audit(now, 'rollcall.asked', rc.by, 'T-' .. tn, cjson.encode({rollcall = rid, person = p.person, site = p.site, note = why}))
    added = added + 1
    out[#out + 1] = p.person
    out[#out + 1] = tn
  end
end
redis.call('HINCRBY', rk, 'total', added)
if joining then
  if added > 0 then audit(now, 'rollcall.joined', 'muster', rid, ARGV[5]) end
else
  audit(now, 'rollcall.started', rc.by, rid, ARGV[5])
end
for _, m in ipairs(msgs) do enqueue(m, now, rid) end
if added > 0 or not joining then
  changed(rid)
  wake(now)
end
return out
