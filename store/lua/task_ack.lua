-- Acknowledge or finish a task. Marks it and removes its deadline only if
-- it is still in a state that allows it, so an ack and an escalation step
-- never both win.
-- ARGV: now, task num (0: the actor's newest open task), actor, action
--       (ack|done), note, (unused), check: '' (none: the caller
--       checked), 'own' (the actor may answer only tasks assigned to them,
--       now or earlier), 'lead' (a supervisor, control or coordinator: any
--       task, but another's only with a note saying why).
-- The permission check runs here, in the same step as the change, so a
-- command reads nothing first. Refusals: 'noopen' (no open task for 0),
-- 'notfound', 'notyours:<assignee>', 'needreason:<assignee>', then
-- 'state:<status>'.
-- Returns {status before, task num, title, assignee}.
local now, tn, actor, action, note = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local check = ARGV[7] or ''
if tonumber(tn) == 0 then
  local newest = redis.call('ZREVRANGE', P .. 'tasks:open:' .. actor, 0, 0)
  if not newest[1] then return redis.error_reply('noopen') end
  tn = newest[1]
end
local tk = P .. 'task:' .. tn
local t = redis.call('HMGET', tk, 'status', 'assignee', 'activation', 'title', 'assignees')
if not t[1] then return redis.error_reply('notfound') end
local status = t[1]
if check ~= '' and t[2] ~= actor then
  local earlier = false
  for p in string.gmatch(t[5] or '', '[^,]+') do
    if p == actor then earlier = true end
  end
  if not earlier then
    if check ~= 'lead' then return redis.error_reply('notyours:' .. (t[2] or '')) end
    if note == '' then return redis.error_reply('needreason:' .. (t[2] or '')) end
  end
end
if action == 'ack' then
  if status ~= 'open' and status ~= 'unanswered' then return redis.error_reply('state:' .. status) end
  redis.call('HSET', tk, 'status', 'acknowledged', 'acked_by', actor, 'acked_at', now, 'ack_note', note)
elseif action == 'done' then
  if status ~= 'open' and status ~= 'acknowledged' and status ~= 'unanswered' then
    return redis.error_reply('state:' .. status)
  end
  redis.call('HSET', tk, 'status', 'done', 'done_by', actor, 'done_at', now, 'done_note', note)
  if status ~= 'acknowledged' then
    redis.call('HSET', tk, 'acked_by', actor, 'acked_at', now)
  end
else
  return redis.error_reply('unknown action ' .. action)
end
redis.call('HDEL', tk, 'claim')
redis.call('ZREM', P .. 'timers', tn)
if t[2] and t[2] ~= '' then redis.call('ZREM', P .. 'tasks:open:' .. t[2], tn) end
-- The event is the task's timeline entry: it says whom the task was for
-- when someone answered another's task.
local data = {note = note}
if actor ~= t[2] then data['for'] = t[2] or '' end
audit(now, 'task.' .. action, actor, 'T-' .. tn, cjson.encode(data))
changed('T-' .. tn)
return {status, tonumber(tn), t[4] or '', t[2] or ''}
