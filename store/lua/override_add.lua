-- A roster cover, its id and its audit event in one step.
-- ARGV: now, override JSON without id (id is added here), actor, audit
--       data, messages JSON (optional; their text may hold the id
--       placeholder)
local now = ARGV[1]
local n = redis.call('INCR', P .. 'seq:override')
local id = 'C-' .. n
local o = cjson.decode(ARGV[2])
o['id'] = id
redis.call('HSET', P .. 'overrides', id, cjson.encode(o))
audit(now, 'roster.override', ARGV[3], id, ARGV[4])
if ARGV[5] and ARGV[5] ~= '' then
  for _, m in ipairs(cjson.decode(ARGV[5])) do
    -- Fill in the id, but leave the message's ref as the caller set it:
    -- a cover has no card.
    m.text = fillid(m.text, id)
    enqueue(m, now)
  end
end
return id
