-- Renew a lease, only for the token that holds it (compare and renew):
-- a holder that was presumed dead and replaced learns it here instead of
-- extending someone else's lease.
-- ARGV: name, token, now ms, ttl ms, backstop ms
-- Returns {1, token, until} when renewed, else {0, holder or '', until}.
local k = P .. 'lease:' .. ARGV[1]
local cur = redis.call('HMGET', k, 'token', 'until')
if cur[1] ~= ARGV[2] then
  return {0, cur[1] or '', cur[2] or '0'}
end
local untilms = string.format('%d', tonumber(ARGV[3]) + tonumber(ARGV[4]))
redis.call('HSET', k, 'until', untilms)
redis.call('PEXPIRE', k, ARGV[5])
return {1, ARGV[2], untilms}
