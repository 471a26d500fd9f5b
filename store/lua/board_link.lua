-- Record a one-time board sign-in link (its hash) for a person. The
-- value carries its expiry on muster's clock (checked when it is used);
-- the key's TTL only clears it from Redis.
-- ARGV: now, link hash, person, ttl ms
local expires = string.format('%.0f', tonumber(ARGV[1]) + tonumber(ARGV[4]))
redis.call('SET', P .. 'board:link:' .. ARGV[2], ARGV[3] .. '|' .. expires, 'PX', ARGV[4])
audit(ARGV[1], 'board.link', ARGV[3], ARGV[3], '{}')
return 1
