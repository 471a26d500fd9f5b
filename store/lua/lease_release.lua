-- Release a lease, only for the token that holds it, so the next replica
-- can take it over at once instead of waiting for it to expire.
-- ARGV: name, token
-- Returns 1 when released, 0 when the token did not hold it.
local k = P .. 'lease:' .. ARGV[1]
if redis.call('HGET', k, 'token') ~= ARGV[2] then return 0 end
redis.call('DEL', k)
return 1
