-- Revoke every board session of a person.
-- ARGV: now, actor, person
-- Returns how many sessions were live.
local ps = P .. 'board:sessions:' .. ARGV[3]
local n = 0
for _, h in ipairs(redis.call('SMEMBERS', ps)) do
  n = n + redis.call('DEL', P .. 'board:session:' .. h)
end
redis.call('DEL', ps)
audit(ARGV[1], 'board.signout', ARGV[2], ARGV[3], cjson.encode({sessions = n}))
return n
