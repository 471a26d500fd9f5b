-- Corrective actions: record one against an incident, an activation, a
-- drill or a management review; mark it done; verify whether it worked;
-- remind its owner or the coordinators. Each with its audit event, in one
-- step, so the check and the change cannot be split.
-- ARGV[1] now, ARGV[2] op, then per op:
--   add:    subject (INC-n|A-n|D-n|review), actor, text, owner, due
--           (YYYY-MM-DD), messages JSON (their text may hold the id
--           placeholder)
--   done:   num, actor, note, check ('' any actor; 'owner': only the owner)
--   verify: num, actor, verdict (effective|ineffective), note
--   remind: num, which (a reminder's name), messages JSON
-- Refusals: 'notfound' (no such subject or action), 'state:<status>',
-- 'notowner:<owner>'.
local now, op = ARGV[1], ARGV[2]

-- subjects maps a subject's prefix to its record's key and the index of
-- the actions recorded against it (the drill's predates the others).
local subjects = {
  ['INC'] = {'incident:', ':actions'},
  ['A'] = {'activation:', ':actions'},
  ['D'] = {'drill:', ':actions'},
}

local function actionkey(num) return P .. 'action:' .. num end

if op == 'add' then
  local subject, actor, text, owner, due = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  local site, drill, index = '', '', nil
  if subject ~= 'review' then
    local prefix, n = string.match(subject, '^(%u+)-(%d+)$')
    local kind = prefix and subjects[prefix]
    if not kind then return redis.error_reply('notfound') end
    local rk = P .. kind[1] .. n
    if redis.call('EXISTS', rk) == 0 then return redis.error_reply('notfound') end
    site = redis.call('HGET', rk, 'site') or ''
    index = rk .. kind[2]
    if prefix == 'D' then drill = n end
  end
  local n = redis.call('INCR', P .. 'seq:action')
  local id = 'CA-' .. n
  redis.call('HSET', actionkey(n), 'id', id, 'num', n, 'subject', subject, 'drill', drill, 'site', site,
    'text', text, 'owner', owner, 'due', due, 'status', 'open', 'created', now, 'by', actor)
  redis.call('ZADD', P .. 'actions', n, n)
  redis.call('ZADD', P .. 'actions:open', n, n)
  if index then redis.call('ZADD', index, n, n) end
  audit(now, 'action.recorded', actor, id, cjson.encode({subject = subject, owner = owner, due = due, text = text}))
  for _, m in ipairs(cjson.decode(ARGV[8] or '[]')) do
    enqueue(m, now, id)
  end
  if subject ~= 'review' then changed(subject) end
  return n
end

local num = ARGV[3]
local k = actionkey(num)
local a = redis.call('HMGET', k, 'status', 'subject', 'owner', 'drill')
if not a[1] then return redis.error_reply('notfound') end
local status, subject, owner = a[1], a[2], a[3]
if not subject or subject == '' then
  -- Recorded before actions had subjects: a drill's.
  subject = 'D-' .. (a[4] or '')
end
local id = 'CA-' .. num

if op == 'done' then
  local actor, note, check = ARGV[4], ARGV[5], ARGV[6]
  if status ~= 'open' then return redis.error_reply('state:' .. status) end
  if check == 'owner' and actor ~= (owner or '') then
    return redis.error_reply('notowner:' .. (owner or ''))
  end
  redis.call('HSET', k, 'status', 'done', 'done_at', now, 'done_by', actor, 'done_note', note)
  redis.call('ZREM', P .. 'actions:open', num)
  audit(now, 'action.done', actor, id, cjson.encode({subject = subject, note = note}))
elseif op == 'verify' then
  local actor, verdict, note = ARGV[4], ARGV[5], ARGV[6]
  if status ~= 'done' then return redis.error_reply('state:' .. status) end
  redis.call('HSET', k, 'status', 'verified', 'verified_at', now, 'verified_by', actor, 'effective', verdict,
    'verify_note', note)
  audit(now, 'action.verified', actor, id, cjson.encode({subject = subject, effective = verdict, note = note}))
elseif op == 'remind' then
  local which = ARGV[4]
  if status ~= 'open' then return 0 end
  local field = 'reminded_' .. which
  if redis.call('HSETNX', k, field, now) == 0 then return 0 end
  for _, m in ipairs(cjson.decode(ARGV[5])) do
    enqueue(m, now)
  end
  audit(now, 'action.reminded', 'muster', id, cjson.encode({reminder = which}))
  return 1
else
  return redis.error_reply('unknown op ' .. op)
end
if subject ~= 'review' then changed(subject) end
return tonumber(num)
