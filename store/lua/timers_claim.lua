-- Claim due timers with a lease. Each claimed task's deadline is pushed to
-- the end of the lease and stamped with the claimer's token: if this
-- process dies, the timer falls due again when the lease ends and another
-- process takes it over; a stale claimer's later write is refused.
-- ARGV: now, lease_until, limit, token
local due = redis.call('ZRANGEBYSCORE', P .. 'timers', '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #due, 2 do
  local tn, score = due[i], due[i + 1]
  redis.call('ZADD', P .. 'timers', ARGV[2], tn)
  redis.call('HSET', P .. 'task:' .. tn, 'claim', ARGV[4])
  out[#out + 1] = tn
  out[#out + 1] = score
end
return out
