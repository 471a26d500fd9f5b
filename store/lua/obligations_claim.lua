-- Claim due obligation deadlines with a lease, as timers_claim.lua does
-- for tasks: each claimed deadline moves to the end of the lease, so it
-- falls due again if this process dies, and the lease end is the claim
-- (obligation_steps.lua records a step only while the deadline is still
-- there).
-- ARGV: now, lease_until, limit
-- Returns a flat list of (member "<incident num>:<obligation id>", due
-- ms, the obligation's record JSON or false when it is gone).
local due = redis.call('ZRANGEBYSCORE', P .. 'otimers', '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #due, 2 do
  local member, score = due[i], due[i + 1]
  local sep = string.find(member, ':', 1, true)
  local rec = false
  if sep then
    rec = redis.call('HGET', P .. 'incident:' .. string.sub(member, 1, sep - 1) .. ':obligations', string.sub(member, sep + 1))
  end
  if not rec then
    redis.call('ZREM', P .. 'otimers', member)
  else
    redis.call('ZADD', P .. 'otimers', ARGV[2], member)
    local o = cjson.decode(rec)
    local d = o.due and o.due[(o.step or 0) + 1]
    if d and d <= tonumber(score) then score = string.format('%.0f', d) end
    out[#out + 1] = member
    out[#out + 1] = score
    out[#out + 1] = rec
  end
end
return out
