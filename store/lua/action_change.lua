-- Corrective actions from drills: record one against a drill, or close
-- one, with its audit event, in one step.
-- ARGV: now, op (add|done), num (the drill for add, the action for done),
--       actor, text
local now, op, num, actor, text = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if op == 'add' then
  local dk = P .. 'drill:' .. num
  if redis.call('EXISTS', dk) == 0 then return redis.error_reply('notfound') end
  local n = redis.call('INCR', P .. 'seq:action')
  local id = 'CA-' .. n
  redis.call('HSET', P .. 'action:' .. n, 'id', id, 'num', n, 'drill', num, 'text', text,
    'status', 'open', 'created', now, 'by', actor)
  redis.call('ZADD', P .. 'actions', n, n)
  redis.call('ZADD', P .. 'actions:open', n, n)
  redis.call('ZADD', dk .. ':actions', n, n)
  audit(now, 'action.recorded', actor, id, cjson.encode({drill = 'D-' .. num, text = text}))
  changed('D-' .. num)
  return n
elseif op == 'done' then
  local k = P .. 'action:' .. num
  local a = redis.call('HMGET', k, 'status', 'drill')
  if not a[1] then return redis.error_reply('notfound') end
  if a[1] ~= 'open' then return redis.error_reply('state:' .. a[1]) end
  redis.call('HSET', k, 'status', 'done', 'done_at', now, 'done_by', actor, 'done_note', text)
  redis.call('ZREM', P .. 'actions:open', num)
  audit(now, 'action.done', actor, 'CA-' .. num, cjson.encode({drill = 'D-' .. a[2], note = text}))
  changed('D-' .. a[2])
  return tonumber(a[2])
end
return redis.error_reply('unknown op ' .. op)
