-- Remove records past retention, a batch at a time. Each is checked again
-- here, so a hold placed (or an incident re-opened) since the caller
-- planned the prune keeps it: an incident only when resolved and not on
-- hold, an activation only when stood down and not linked to a held
-- incident.
-- ARGV: JSON array of {t = incident|activation|task|drill|action, n = num};
-- an action only goes once done (or verified).
-- Returns the number removed.
local removed = 0
for _, r in ipairs(cjson.decode(ARGV[1])) do
  local n = tostring(r.n)
  if r.t == 'incident' then
    local k = P .. 'incident:' .. n
    local st = redis.call('HMGET', k, 'status', 'hold')
    if st[1] == 'resolved' and (not st[2] or st[2] == '') then
      redis.call('DEL', k, k .. ':timeline', k .. ':actions', k .. ':obligations')
      redis.call('ZREM', P .. 'incidents', n)
      redis.call('ZREM', P .. 'incidents:open', n)
      removed = removed + 1
    end
  elseif r.t == 'activation' then
    local k = P .. 'activation:' .. n
    local a = redis.call('HMGET', k, 'status', 'incident')
    local held = false
    if a[2] and a[2] ~= '' then
      local hold = redis.call('HGET', P .. 'incident:' .. a[2], 'hold')
      held = hold and hold ~= ''
    end
    if a[1] == 'stood_down' and not held then
      redis.call('DEL', k, k .. ':timeline', k .. ':actions')
      redis.call('ZREM', P .. 'activations', n)
      redis.call('SREM', P .. 'activations:active', n)
      removed = removed + 1
    end
  elseif r.t == 'task' then
    local k = P .. 'task:' .. n
    local st = redis.call('HGET', k, 'status')
    if st and st ~= 'open' then
      removed = removed + redis.call('DEL', k)
      redis.call('DEL', k .. ':timeline')
    end
  elseif r.t == 'drill' then
    local k = P .. 'drill:' .. n
    if redis.call('HGET', k, 'status') == 'stopped' then
      redis.call('DEL', k, k .. ':actions')
      redis.call('ZREM', P .. 'drills', n)
      removed = removed + 1
    end
  elseif r.t == 'action' then
    local k = P .. 'action:' .. n
    local st = redis.call('HGET', k, 'status')
    if st == 'done' or st == 'verified' then
      redis.call('DEL', k)
      redis.call('ZREM', P .. 'actions', n)
      redis.call('ZREM', P .. 'actions:open', n)
      removed = removed + 1
    end
  end
end
return removed
