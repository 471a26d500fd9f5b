-- Start a roll call, or add people to an open one (someone who came on
-- duty while it runs). Each person's "Are you safe?" is a task of kind
-- rollcall, so the engine reminds and tells by the roll-call policy with
-- the same timers, leases and outbox as any task. The roll call, its
-- people, their tasks, their deadlines, the tally cards and the audit
-- events are written together: a roll call is never half started.
-- With an ask (the policy's first step only asks the person), this script
-- runs that first step itself: everyone's question is queued here, with
-- the roll call, and their next step falls due a full wait later. A roll
-- call of thousands is then asked at once, not at the engine's step rate.
-- Without one, each question's first step is due now and the engine runs
-- it.
-- ARGV: now, roll call JSON {num (0: new), sites, by, note, drill, policy},
--       people JSON [{person, site}], messages JSON (tally cards; their
--       text may hold the id placeholder), audit data JSON, ask JSON (''
--       for none: {wait = ms before the next step, channels = [...],
--       texts = {site = {channel = text}}}, texts may hold the id
--       placeholder)
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
  local st = redis.call('HMGET', rk, 'status', 'drill', 'policy', 'by', 'lines')
  if not st[1] then return redis.error_reply('notfound') end
  if st[1] ~= 'open' then return redis.error_reply('state:' .. st[1]) end
  rc.drill, rc.policy, rc.by, rc.lines = st[2], st[3], st[4], st[5]
else
  rn = redis.call('INCR', P .. 'seq:rollcall')
  rk = P .. 'rollcall:' .. rn
  redis.call('HSET', rk, 'id', 'R-' .. rn, 'num', rn, 'sites', rc.sites, 'by', rc.by, 'note', rc.note or '',
    'drill', rc.drill or '', 'policy', rc.policy or '', 'status', 'open', 'created', now,
    'total', 0, 'safe', 0, 'help', 0, 'lines', 1)
  rc.lines = '1'
  redis.call('ZADD', P .. 'rollcalls', rn, rn)
  redis.call('SADD', P .. 'rollcalls:open', rn)
end
local rid = 'R-' .. rn
local pk = rk .. ':people'
local out = {rn}
local added = 0
local why = 'on duty'
if joining then why = 'came on duty' end
local ask, due, step = nil, now, 0
if ARGV[6] and ARGV[6] ~= '' then
  ask = cjson.decode(ARGV[6])
  due, step = string.format('%.0f', tonumber(now) + tonumber(ask.wait)), 1
  for _, texts in pairs(ask.texts) do
    for ch, text in pairs(texts) do texts[ch] = fillid(text, rid) end
  end
end
local drill = rc.drill or ''
for _, p in ipairs(people) do
  -- A new roll call has nobody yet (the caller lists each person once).
  if not joining or redis.call('HEXISTS', pk, p.person) == 0 then
    local tn = redis.call('INCR', P .. 'seq:task')
    local tid = 'T-' .. tn
    redis.call('HSET', P .. 'task:' .. tn, 'id', tid, 'num', tn, 'kind', 'rollcall', 'ref', rid,
      'title', 'Roll call ' .. rid, 'policy', rc.policy or '', 'site', p.site, 'assignee', p.person,
      'assignees', p.person, 'status', 'open', 'step', step, 'due', due, 'created', now, 'drill', drill)
    redis.call('HSET', pk, p.person, tn)
    redis.call('ZADD', P .. 'timers', due, tn)
    redis.call('ZADD', P .. 'rollcall:open:' .. p.person, rn, tn)
    -- The tally's lines (store.RollCallSample): everyone starts not yet
    -- answered, in site, person order.
    if rc.lines == '1' then redis.call('ZADD', rk .. ':pending', 0, p.site .. '\t' .. p.person) end
    local asked = {rollcall = rid, person = p.person, site = p.site, note = why}
    if ask then
      -- The question's first step, as the engine would run it (the same
      -- idempotency keys, kind and ref), recorded in the asked event.
      local texts = ask.texts[p.site] or {}
      for _, ch in ipairs(ask.channels) do
        redis.call('XADD', P .. 'outbox', '*', 'key', tid .. ':0:' .. ch, 'channel', ch, 'to', p.person,
          'site', '', 'kind', 'task', 'ref', tid, 'text', texts[ch] or '', 'task', tn, 'drill', drill, 'queued', now)
      end
      asked.step, asked.notify = 1, ask.channels
    end
    audit(now, 'rollcall.asked', rc.by, tid, cjson.encode(asked))
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
  wake(due)
end
return out
