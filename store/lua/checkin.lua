-- Lone-worker sessions: start one, check in, stop it. A session is a task
-- of kind checkin whose timer is the next check-in due: a check-in moves
-- it a whole interval on and ends any escalation of a missed one, in the
-- same step, so a check-in and an escalation step never both win.
-- ARGV: now, action (start|ok|stop), person, then
--   start: site, every ms, until ms, note, drill, audit data JSON
--   ok: actor, channel (how the check-in came: slack, sms, voice...)
--   stop: actor
--   help: actor, channel, incident JSON {site, category, severity,
--         text, data}, messages JSON (pages; their text may hold the
--         incident id placeholder)
-- A help raises the sev1 incident linked to the session, with its pages,
-- and records it on the session, in this one step; it does not count as
-- a check-in (the worker is not fine), so the escalation of a missed one
-- goes on until someone checks in.
-- Returns {task num, session num, status before, step before, missed at
-- ms ('' unless the check-in answered a missed one)}.
-- Refusals: 'state:active' (start while one runs), 'noopen' (none runs).
local now, action, person = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local ak = P .. 'checkin:active:' .. person
local tn = redis.call('GET', ak)
if action == 'start' then
  if tn then return redis.error_reply('state:active') end
  local every, untl = tonumber(ARGV[5]), tonumber(ARGV[6])
  local ln = redis.call('INCR', P .. 'seq:checkin')
  tn = redis.call('INCR', P .. 'seq:task')
  local due = math.min(now + every, untl)
  redis.call('HSET', P .. 'task:' .. tn, 'id', 'T-' .. tn, 'num', tn, 'kind', 'checkin', 'ref', 'L-' .. ln,
    'title', 'Lone-worker check-ins L-' .. ln, 'site', ARGV[4], 'assignee', person, 'assignees', person,
    'status', 'open', 'step', 0, 'due', string.format('%.0f', due), 'created', now, 'every', every,
    'until', string.format('%.0f', untl), 'last', now, 'note', ARGV[7], 'drill', ARGV[8], 'missed', 0)
  redis.call('SET', ak, tn)
  redis.call('ZADD', P .. 'checkins:active', tn, tn)
  redis.call('ZADD', P .. 'checkins', tn, tn)
  redis.call('ZADD', P .. 'timers', string.format('%.0f', due), tn)
  audit(now, 'checkin.started', person, 'T-' .. tn, ARGV[9])
  changed('T-' .. tn)
  wake(string.format('%.0f', due))
  return {tonumber(tn), ln, 'open', 0, ''}
end
if not tn then return redis.error_reply('noopen') end
local tk = P .. 'task:' .. tn
local t = redis.call('HMGET', tk, 'status', 'step', 'every', 'until', 'last', 'ref')
local ln = tonumber(string.sub(t[6], 3))
if action == 'stop' then
  redis.call('HSET', tk, 'status', 'ended', 'ended_at', now, 'ended_by', ARGV[4])
  redis.call('ZREM', P .. 'timers', tn)
  redis.call('ZREM', P .. 'checkins:active', tn)
  redis.call('DEL', ak)
  audit(now, 'checkin.stopped', ARGV[4], 'T-' .. tn, cjson.encode({session = t[6]}))
  changed('T-' .. tn)
  return {tonumber(tn), ln, t[1], tonumber(t[2]), ''}
end
if action == 'help' then
  local i = cjson.decode(ARGV[6])
  local inc = raise(now, i.site, i.category, i.severity, ARGV[4], i.text, i.data)
  local ik = P .. 'incident:' .. inc
  redis.call('HSET', ik, 'session', t[6])
  timeline(ik .. ':timeline', now, ARGV[4], 'checkin', 'Raised by a HELP in lone-worker check-ins ' .. t[6])
  redis.call('HSET', tk, 'incident', inc)
  redis.call('HINCRBY', tk, 'helps', 1)
  for _, m in ipairs(cjson.decode(ARGV[7])) do enqueue(m, now, 'INC-' .. inc) end
  audit(now, 'checkin.help', ARGV[4], 'T-' .. tn, cjson.encode({session = t[6], incident = 'INC-' .. inc, channel = ARGV[5]}))
  changed('T-' .. tn)
  return {tonumber(tn), ln, t[1], tonumber(t[2]), '', inc}
end
-- ok: a check-in.
local missed = ''
local step = tonumber(t[2])
if step > 0 then
  missed = string.format('%.0f', math.min(tonumber(t[5]) + tonumber(t[3]), tonumber(t[4])))
  redis.call('HINCRBY', tk, 'missed', 1)
end
local due = math.min(now + tonumber(t[3]), tonumber(t[4]))
redis.call('HSET', tk, 'status', 'open', 'step', 0, 'last', now, 'due', string.format('%.0f', due))
redis.call('HINCRBY', tk, 'checkins', 1)
redis.call('ZADD', P .. 'timers', string.format('%.0f', due), tn)
local data = {session = t[6], channel = ARGV[5] or ''}
if missed ~= '' then
  data.missed_at = tonumber(missed)
  data.response_ms = now - tonumber(missed)
  data.after_step = step
end
audit(now, 'checkin.ok', ARGV[4], 'T-' .. tn, cjson.encode(data))
changed('T-' .. tn)
return {tonumber(tn), ln, t[1], step, missed}
