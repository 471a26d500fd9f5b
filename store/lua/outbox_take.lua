-- Take one outbox message for delivery. A message about a task is only
-- sent while the task is open: the check and the mark are one step, so
-- no send is taken after an acknowledgement was recorded.
-- ARGV: now, message key, task num ('' for none), channel, recipient, consumer
local now, key, tn = ARGV[1], ARGV[2], ARGV[3]
if key ~= '' then
  local fresh = redis.call('SET', P .. 'taken:' .. key, ARGV[6], 'NX', 'PX', 604800000)
  if not fresh then return 'dup' end
end
if tn ~= '' then
  local tk = P .. 'task:' .. tn
  local st = redis.call('HGET', tk, 'status')
  if st ~= 'open' then return 'closed' end
  timeline(tk .. ':timeline', now, 'muster', 'sent', ARGV[4] .. ' to ' .. ARGV[5])
end
return 'ok'
