-- Record what degraded mode did for roll calls while Redis was unreachable
-- (store/journal): a roll call started by SMS, or one person's SMS answer
-- (SAFE or HELP) that the process answering it journalled. Each journal
-- entry is written once: a marker per entry id (SET NX, kept forever)
-- makes a second replay, from this process or another replica, a no-op.
-- Answers are journalled by whichever process received the SMS, so an
-- answer may be replayed before the roll call it answers (another
-- process's journal): such an answer is audited and waits in
-- rollcall:degraded:answers (scored by when it was given, kept a week)
-- and the roll call's replay takes it. An
-- answer is recorded at the time it was given, and never over a later one.
-- A lone worker's HELP (kind 'lonehelp') is not a roll-call answer: it
-- raises its sev1 at once, linked to the check-in session, and queues the
-- pages to control and the supervisor, as /checkin's live HELP does.
-- ARGV: now, kind ('rollcall' | 'answer' | 'lonehelp'), journal entry id,
--       entry JSON, audit data JSON
--   rollcall: {at, sites, by, note, policy, people: [{person, site}],
--              messages (tally cards; text may hold the id placeholder),
--              asked (the question went to each of people by SMS at
--              'at'), wait (the policy's first wait then, ms)}
--   answer:   {at, person, answer, note, category, site (where they are on
--              duty), text (HELP's incident text; the placeholder stands
--              for R-n), unsure (a HELP from someone not known to be in a
--              roll call: recorded only if one takes it, raising nothing
--              on its own), messages (pages queued with its incident)}
--   lonehelp: {at, person, note, category, site, text, session (L-n),
--              task (the session's task num), messages (pages; the
--              placeholder stands for INC-n)}
-- A HELP replayed before any roll call it could answer raises its sev1 at
-- once (a call for help never waits on another process's journal); the
-- roll call's replay then links it.
-- Returns {1 fresh | 0 replayed before, R-n (or 'pending': the answer
-- waits for its roll call; INC-n for a lone worker's help)}.
local now, kind, jid = ARGV[1], ARGV[2], ARGV[3]
local d = cjson.decode(ARGV[4])
local mk = P .. 'degraded:' .. jid
if not redis.call('SET', mk, 'replaying', 'NX') then
  return {0, redis.call('GET', mk) or ''}
end
local pend = P .. 'rollcall:degraded:answers'

-- apply records answer a as its person's in open roll call rn (their
-- question is task tn), with its incident for a help. It returns 1 when
-- recorded, 0 when the person had already given that answer or a later
-- one.
local function apply(rn, tn, a)
  local rk = P .. 'rollcall:' .. rn
  local rid = 'R-' .. rn
  local tk = P .. 'task:' .. tn
  local t = redis.call('HMGET', tk, 'status', 'site', 'accounted_at', 'acked_at')
  local before = t[1]
  if before == a.answer then return 0 end
  if t[4] and t[4] ~= '' and tonumber(t[4]) > tonumber(a.at) then return 0 end
  local answered = before == 'safe' or before == 'help'
  if answered then redis.call('HINCRBY', rk, before, -1) end
  redis.call('HINCRBY', rk, a.answer, 1)
  if redis.call('HGET', rk, 'lines') == '1' then
    -- A live roll call keeps its tally's lines (store.RollCallSample), as
    -- lua/rollcall_answer.lua does: the person moves to this answer.
    local member = (t[2] or '') .. '\t' .. a.person
    if answered then redis.call('ZREM', rk .. ':' .. before, member) else redis.call('ZREM', rk .. ':pending', member) end
    redis.call('ZADD', rk .. ':' .. a.answer, 0, member)
  end
  redis.call('HSET', tk, 'status', a.answer, 'acked_by', a.person, 'acked_at', a.at, 'ack_note', a.note or '',
    'ack_channel', 'sms')
  if not t[3] or t[3] == '' then redis.call('HSET', tk, 'accounted_at', a.at) end
  redis.call('ZREM', P .. 'timers', tn)
  redis.call('ZREM', P .. 'rollcall:open:' .. a.person, tn)
  local data = {rollcall = rid, note = a.note or '', before = before, degraded = a.id, answered_at = a.at,
    channel = 'sms'}
  if a.answer == 'help' then
    -- Raised when the answer was replayed before its roll call, or now.
    local inc = tonumber(a.incident or 0) or 0
    if inc == 0 then
      local text = fillid(a.text or '', rid)
      inc = raise(now, t[2] or '', a.category, 'sev1', a.person, text,
        cjson.encode({site = t[2] or '', category = a.category, severity = 'sev1', text = text, degraded = a.id}))
    end
    local ik = P .. 'incident:' .. inc
    redis.call('HSET', ik, 'rollcall', rid)
    timeline(ik .. ':timeline', now, a.person, 'rollcall',
      'Raised by a HELP in roll call ' .. rid .. ' (sent by SMS in degraded mode, journal ' .. a.id .. ')')
    redis.call('HSET', tk, 'incident', inc)
    data.incident = 'INC-' .. inc
    -- Pages nobody sent while records were unavailable go now.
    for _, m in ipairs(a.messages or {}) do enqueue(m, now, 'INC-' .. inc) end
    a.messages = {}
  end
  audit(now, 'rollcall.' .. a.answer, a.person, 'T-' .. tn, cjson.encode(data))
  changed('T-' .. tn)
  return 1
end

if kind == 'lonehelp' then
  -- The session's task, if it is still this person's check-ins (the
  -- session may have ended since: the help is linked all the same).
  local tn = tonumber(d.task) or 0
  local tk = P .. 'task:' .. tn
  local t = redis.call('HMGET', tk, 'kind', 'assignee', 'ref', 'site')
  local linked = tn > 0 and t[1] == 'checkin' and t[2] == d.person
  local site, ref = d.site or '', d.session or ''
  if linked then site, ref = t[4] or site, t[3] or ref end
  local inc = raise(now, site, d.category, 'sev1', d.person, d.text,
    cjson.encode({site = site, category = d.category, severity = 'sev1', text = d.text, degraded = jid, answered_at = d.at}))
  local iid = 'INC-' .. inc
  local subject = d.person
  if linked then
    local ik = P .. 'incident:' .. inc
    redis.call('HSET', ik, 'session', ref)
    timeline(ik .. ':timeline', now, d.person, 'checkin',
      'Raised by a HELP in lone-worker check-ins ' .. ref .. ' (sent by SMS in degraded mode, journal ' .. jid .. ')')
    redis.call('HSET', tk, 'incident', inc)
    redis.call('HINCRBY', tk, 'helps', 1)
    subject = 'T-' .. tn
    changed(subject)
  end
  for _, m in ipairs(d.messages or {}) do enqueue(m, now, iid) end
  audit(now, 'checkin.help', d.person, subject, cjson.encode({session = ref, incident = iid, channel = 'sms',
    note = d.note or '', degraded = jid, answered_at = d.at}))
  redis.call('SET', mk, iid)
  return {1, iid}
end

if kind == 'answer' then
  d.id = jid
  -- The newest open roll call that asked the person and had started when
  -- they answered.
  local best, btn = 0, nil
  for _, n in ipairs(redis.call('SMEMBERS', P .. 'rollcalls:open')) do
    local rk = P .. 'rollcall:' .. n
    local tn = redis.call('HGET', rk .. ':people', d.person)
    local created = tonumber(redis.call('HGET', rk, 'created') or '0')
    if tn and created <= tonumber(d.at) and tonumber(n) > best then best, btn = tonumber(n), tn end
  end
  local rid = 'pending'
  if best > 0 then
    rid = 'R-' .. best
    apply(best, btn, d)
    changed(rid)
  else
    if d.answer == 'help' and not d.unsure then
      -- A call for help is never left out of the records: its sev1 is
      -- raised now, and linked to the roll call if one is replayed later.
      -- (An unsure one, from someone not known to be asked, waits for a
      -- roll call to take it.)
      local text = fillid(d.text or '', 'by SMS in degraded mode')
      d.incident = raise(now, d.site or '', d.category, 'sev1', d.person, text,
        cjson.encode({site = d.site or '', category = d.category, severity = 'sev1', text = text, degraded = jid}))
    end
    redis.call('ZADD', pend, d.at, cjson.encode(d))
    -- On the record now, whether or not a roll call ever takes it.
    local data = {answer = d.answer, note = d.note or '', degraded = jid, answered_at = d.at}
    if d.incident then data.incident = 'INC-' .. d.incident end
    audit(now, 'rollcall.answer_kept', d.person, jid, cjson.encode(data))
    -- Kept a week for a roll call to take them.
    redis.call('ZREMRANGEBYSCORE', pend, '-inf', '(' .. (tonumber(now) - 604800000))
  end
  redis.call('SET', mk, rid)
  return {1, rid}
end

local rn = redis.call('INCR', P .. 'seq:rollcall')
local rid = 'R-' .. rn
local rk = P .. 'rollcall:' .. rn
local pk = rk .. ':people'
redis.call('HSET', rk, 'id', rid, 'num', rn, 'sites', d.sites, 'by', d.by, 'note', d.note or '',
  'drill', '', 'policy', d.policy or '', 'status', 'open', 'created', d.at,
  'total', 0, 'safe', 0, 'help', 0, 'degraded', jid)
redis.call('ZADD', P .. 'rollcalls', rn, rn)
redis.call('SADD', P .. 'rollcalls:open', rn)
audit(now, 'rollcall.started', d.by, rid, ARGV[5])
local added = 0
-- The question went out by SMS at 'at': that was step 0, so whoever has
-- not answered is at step 1 (the reminder), due the policy's first wait
-- after it was sent, as if the engine had asked them then. (An entry that
-- does not say so asks again on every channel now: step 0 due now.)
local step, due = 0, now
if d.asked then step, due = 1, tonumber(d.at) + (tonumber(d.wait) or 0) end
for _, p in ipairs(d.people) do
  if redis.call('HEXISTS', pk, p.person) == 0 then
    local tn = redis.call('INCR', P .. 'seq:task')
    redis.call('HSET', P .. 'task:' .. tn, 'id', 'T-' .. tn, 'num', tn, 'kind', 'rollcall', 'ref', rid,
      'title', 'Roll call ' .. rid, 'policy', d.policy or '', 'site', p.site, 'assignee', p.person,
      'assignees', p.person, 'status', 'open', 'step', step, 'due', due, 'created', d.at, 'drill', '', 'degraded', jid)
    redis.call('HSET', pk, p.person, tn)
    redis.call('ZADD', P .. 'timers', due, tn)
    redis.call('ZADD', P .. 'rollcall:open:' .. p.person, rn, tn)
    audit(now, 'rollcall.asked', d.by, 'T-' .. tn, cjson.encode({rollcall = rid, person = p.person, site = p.site,
      note = 'on duty (asked by SMS in degraded mode)', degraded = jid, at = d.at}))
    added = added + 1
  end
end
redis.call('HSET', rk, 'total', added)
-- Answers replayed before this roll call, given since it started.
for _, raw in ipairs(redis.call('ZRANGEBYSCORE', pend, d.at, '+inf')) do
  local a = cjson.decode(raw)
  local tn = redis.call('HGET', pk, a.person)
  if tn then
    apply(rn, tn, a)
    redis.call('ZREM', pend, raw)
  end
end
for _, m in ipairs(d.messages or {}) do enqueue(m, now, rid) end
redis.call('SET', mk, rid)
changed(rid)
wake(now)
return {1, rid}
