-- A roster cover, its id and its audit event in one step.
-- ARGV: now, override JSON without id (id is added here), actor, audit
--       data, messages JSON (optional; their text may hold the id
--       placeholder), site (optional: the cover puts its person on duty
--       there now)
-- Returns {id, then the open roll calls of that site that have not asked
-- the person yet}: the caller adds them (lua/rollcall_start.lua), so a
-- cover outside a roll call costs nothing more.
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
local out = {id}
local site = ARGV[6]
if site and site ~= '' then
  for _, n in ipairs(redis.call('SMEMBERS', P .. 'rollcalls:open')) do
    local rk = P .. 'rollcall:' .. n
    local sites = ',' .. (redis.call('HGET', rk, 'sites') or '') .. ','
    if string.find(sites, ',' .. site .. ',', 1, true) and redis.call('HEXISTS', rk .. ':people', o.person) == 0 then
      out[#out + 1] = tonumber(n)
    end
  end
end
return out
