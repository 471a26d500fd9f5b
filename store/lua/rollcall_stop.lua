-- Stop a roll call: nobody is asked or reminded any more. Whoever has not
-- answered by now is recorded as never having answered (unanswered), in
-- the same step, so the report's "never answered" is the tally at the stop.
-- ARGV: now, roll call num, actor, note, messages JSON
-- Returns the number of people who had not answered.
local now, rn, actor, note = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rk = P .. 'rollcall:' .. rn
local rs = redis.call('HGET', rk, 'status')
if not rs then return redis.error_reply('notfound') end
if rs ~= 'open' then return redis.error_reply('state:' .. rs) end
local rid = 'R-' .. rn
local flat = redis.call('HGETALL', rk .. ':people')
local silent = 0
for i = 1, #flat, 2 do
  local person, tn = flat[i], flat[i + 1]
  local tk = P .. 'task:' .. tn
  local st = redis.call('HGET', tk, 'status')
  if st == 'open' or st == 'unanswered' then
    silent = silent + 1
    if st == 'open' then redis.call('HSET', tk, 'status', 'unanswered', 'unanswered_at', now) end
    redis.call('ZREM', P .. 'timers', tn)
    changed('T-' .. tn)
  end
  redis.call('ZREM', P .. 'rollcall:open:' .. person, tn)
end
redis.call('HSET', rk, 'status', 'stopped', 'closed_at', now, 'closed_by', actor, 'stop_note', note)
redis.call('SREM', P .. 'rollcalls:open', rn)
audit(now, 'rollcall.stopped', actor, rid, cjson.encode({note = note, unanswered = silent}))
for _, m in ipairs(cjson.decode(ARGV[5])) do enqueue(m, now, rid) end
changed(rid)
return silent
