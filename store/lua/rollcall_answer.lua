-- Record one person's answer to a roll call: safe or help. The answer, the
-- end of their escalation (their timer goes), the tally, the audit event
-- and, for help, the sev1 incident linked to the roll call and the pages
-- that announce it are one step: a HELP is never recorded without its
-- incident, and an answer and an escalation step never both win.
-- A person may change their answer (safe, then help when things change);
-- the same answer twice is refused.
-- ARGV: now, roll call num (0: the actor's newest open roll call), actor,
--       answer (safe|help), note, incident JSON ('' for none: {site,
--       category, severity, text, data}), messages JSON (pages; their text
--       may hold the incident id placeholder), channel (how the answer
--       came: slack, sms, voice, slack button...)
-- Returns {roll call num, task num, status before, site, incident num (0)}.
-- Refusals: 'noopen', 'notfound', 'notin', 'state:<answer>',
-- 'closed:<status>' (the roll call is over).
local now, rn, actor, answer, note = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local tn
if rn == 0 then
  local newest = redis.call('ZREVRANGE', P .. 'rollcall:open:' .. actor, 0, 0, 'WITHSCORES')
  if newest[1] then
    tn, rn = newest[1], tonumber(newest[2])
  else
    -- Nothing unanswered: the newest open roll call that asked them (a
    -- SAFE that becomes a HELP, or a second SAFE to be told it is known).
    for _, n in ipairs(redis.call('SMEMBERS', P .. 'rollcalls:open')) do
      if tonumber(n) > rn and redis.call('HEXISTS', P .. 'rollcall:' .. n .. ':people', actor) == 1 then
        rn = tonumber(n)
      end
    end
    if rn == 0 then return redis.error_reply('noopen') end
  end
end
local rk = P .. 'rollcall:' .. rn
local rs = redis.call('HGET', rk, 'status')
if not rs then return redis.error_reply('notfound') end
if not tn then
  tn = redis.call('HGET', rk .. ':people', actor)
  if not tn then return redis.error_reply('notin') end
end
if rs ~= 'open' then return redis.error_reply('closed:' .. rs) end
local rid = 'R-' .. rn
local tk = P .. 'task:' .. tn
local t = redis.call('HMGET', tk, 'status', 'site', 'accounted_at')
local before = t[1]
if before == answer then return redis.error_reply('state:' .. before) end
local answered = before == 'safe' or before == 'help'
if answered then
  redis.call('HINCRBY', rk, before, -1)
end
redis.call('HINCRBY', rk, answer, 1)
if redis.call('HGET', rk, 'lines') == '1' then
  -- The tally's lines (store.RollCallSample): the person moves from not
  -- yet answered, or from their earlier answer, to this one.
  local member = (t[2] or '') .. '\t' .. actor
  if answered then redis.call('ZREM', rk .. ':' .. before, member) else redis.call('ZREM', rk .. ':pending', member) end
  redis.call('ZADD', rk .. ':' .. answer, 0, member)
end
redis.call('HSET', tk, 'status', answer, 'acked_by', actor, 'acked_at', now, 'ack_note', note,
  'ack_channel', ARGV[8] or '')
if not t[3] or t[3] == '' then redis.call('HSET', tk, 'accounted_at', now) end
redis.call('ZREM', P .. 'timers', tn)
redis.call('ZREM', P .. 'rollcall:open:' .. actor, tn)
local inc = 0
if ARGV[6] ~= '' then
  local i = cjson.decode(ARGV[6])
  inc = raise(now, i.site, i.category, i.severity, actor, i.text, i.data)
  local ik = P .. 'incident:' .. inc
  redis.call('HSET', ik, 'rollcall', rid)
  if i.drill == '1' then redis.call('HSET', ik, 'drill', '1') end
  timeline(ik .. ':timeline', now, actor, 'rollcall', 'Raised by a HELP in roll call ' .. rid)
  redis.call('HSET', tk, 'incident', inc)
  for _, m in ipairs(cjson.decode(ARGV[7])) do enqueue(m, now, 'INC-' .. inc) end
end
local data = {rollcall = rid, note = note, before = before, channel = ARGV[8] or '',
  asked_at = tonumber(redis.call('HGET', tk, 'created'))}
if inc > 0 then data.incident = 'INC-' .. inc end
audit(now, 'rollcall.' .. answer, actor, 'T-' .. tn, cjson.encode(data))
changed('T-' .. tn)
changed(rid)
return {rn, tonumber(tn), before, t[2] or '', inc}
