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
    local ph = '\1ID\1'
    local i = string.find(m.text or '', ph, 1, true)
    while i do
      m.text = string.sub(m.text, 1, i - 1) .. id .. string.sub(m.text, i + string.len(ph))
      i = string.find(m.text, ph, 1, true)
    end
    enqueue(m, now)
  end
end
return id
