-- Exchange a board sign-in link for a session: the link is deleted in
-- the same step, so it opens one session only.
-- ARGV: now, link hash, session hash, csrf token, ttl ms
-- Returns the person; 'notfound' when the link is unknown, used or
-- expired (on muster's clock).
local lk = P .. 'board:link:' .. ARGV[2]
local v = redis.call('GET', lk)
if not v then return redis.error_reply('notfound') end
redis.call('DEL', lk)
local sep = string.find(v, '|', 1, true)
local person, expires = string.sub(v, 1, sep - 1), tonumber(string.sub(v, sep + 1))
if tonumber(ARGV[1]) > expires then return redis.error_reply('notfound') end
local sk = P .. 'board:session:' .. ARGV[3]
redis.call('HSET', sk, 'person', person, 'csrf', ARGV[4], 'created', ARGV[1],
  'expires', string.format('%.0f', tonumber(ARGV[1]) + tonumber(ARGV[5])))
redis.call('PEXPIRE', sk, ARGV[5])
local ps = P .. 'board:sessions:' .. person
redis.call('SADD', ps, ARGV[3])
redis.call('PEXPIRE', ps, ARGV[5])
audit(ARGV[1], 'board.signin', person, person, '{}')
return person
