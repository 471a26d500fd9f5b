-- Acquire (or re-acquire) a named lease: one holder at a time, e.g. the
-- one replica that holds an organization's Slack Socket Mode connection.
-- The lease is a hash {token, until, since}; `until` is on the store's
-- clock (ARGV now), like the engine's timer claims, so a test clock can
-- expire it. It is free when absent or past `until`, and always free to
-- the token that holds it. PEXPIRE is only a backstop that removes the
-- key, in real time, long after its holder is gone; it is what SET NX PX
-- would do, with the expiry also readable on the clock muster uses.
-- ARGV: name, token, now ms, ttl ms, backstop ms
-- Returns {1, token, until} when acquired, else {0, holder, until}.
local k = P .. 'lease:' .. ARGV[1]
local token, now = ARGV[2], tonumber(ARGV[3])
local cur = redis.call('HMGET', k, 'token', 'until', 'since')
if cur[1] and cur[1] ~= token and tonumber(cur[2] or '0') > now then
  return {0, cur[1], cur[2]}
end
local untilms = string.format('%d', now + tonumber(ARGV[4]))
local since = ARGV[3]
if cur[1] == token and cur[3] then since = cur[3] end
redis.call('HSET', k, 'token', token, 'until', untilms, 'since', since)
redis.call('PEXPIRE', k, ARGV[5])
return {1, token, untilms}
