-- A roster cover, its id and its audit event in one step.
-- ARGV: now, override JSON without id (id is added here), actor, audit data
local now = ARGV[1]
local n = redis.call('INCR', P .. 'seq:override')
local id = 'C-' .. n
local o = cjson.decode(ARGV[2])
o['id'] = id
redis.call('HSET', P .. 'overrides', id, cjson.encode(o))
audit(now, 'roster.override', ARGV[3], id, ARGV[4])
return id
