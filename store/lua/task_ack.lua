-- Acknowledge or finish a task. Marks it and removes its deadline only if
-- it is still in a state that allows it, so an ack and an escalation step
-- never both win.
-- ARGV: now, task num, actor, action (ack|done), note, audit data JSON
local now, tn, actor, action, note = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local tk = P .. 'task:' .. tn
local t = redis.call('HMGET', tk, 'status', 'assignee', 'activation')
if not t[1] then return redis.error_reply('notfound') end
local status = t[1]
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
local text = note
if actor ~= t[2] then text = 'for ' .. (t[2] or '') .. ': ' .. note end
timeline(tk .. ':timeline', now, actor, action, text)
if t[3] then
  timeline(P .. 'activation:' .. t[3] .. ':timeline', now, actor, action, 'T-' .. tn .. ' ' .. text)
end
audit(now, 'task.' .. action, actor, 'T-' .. tn, ARGV[6])
changed('T-' .. tn)
return status
