-- Run a batch of obligation clock steps, each only if the obligation is
-- still pending, the caller's claim still holds (its deadline is still at
-- the lease end claimed) and the step is the one expected: a reminder to
-- the owner, or the deadline passing (missed). This is where a reminder
-- and /incident notified race, and exactly one wins.
-- ARGV: now, number of runs, then per run: member, lease end ms, expected
--       step, action (remind|miss|drop), next due ms ('' for none), audit
--       data JSON, number of messages, then per message: key, channel,
--       to, site, kind, ref, text, task, drill
-- Returns one result per run: ok, closed, stale or gone.
local now = ARGV[1]
local out = {}
local i = 3
for r = 1, tonumber(ARGV[2]) do
  local member, fence, s, action, nextDue, data = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local nmsgs = tonumber(ARGV[i + 6])
  local m0 = i + 7
  i = m0 + 9 * nmsgs
  local sep = string.find(member, ':', 1, true)
  local num, oid = string.sub(member, 1, sep - 1), string.sub(member, sep + 1)
  local hk = P .. 'incident:' .. num .. ':obligations'
  local rec = redis.call('HGET', hk, oid)
  local res = 'ok'
  if not rec then
    redis.call('ZREM', P .. 'otimers', member)
    res = 'gone'
  else
    local o = cjson.decode(rec)
    if o.status ~= 'pending' or action == 'drop' then
      redis.call('ZREM', P .. 'otimers', member)
      res = 'closed'
    elseif (o.step or 0) ~= s or tonumber(redis.call('ZSCORE', P .. 'otimers', member) or '-1') ~= tonumber(fence) then
      res = 'stale'
    else
      for j = m0, i - 1, 9 do
        redis.call('XADD', P .. 'outbox', '*', 'key', ARGV[j], 'channel', ARGV[j + 1], 'to', ARGV[j + 2],
          'site', ARGV[j + 3], 'kind', ARGV[j + 4], 'ref', ARGV[j + 5], 'text', ARGV[j + 6], 'task', ARGV[j + 7],
          'drill', ARGV[j + 8], 'queued', now)
      end
      o.step = s + 1
      local kind = 'obligation.reminder'
      if action == 'miss' then
        o.status = 'missed'
        o.missed_at = tonumber(now)
        redis.call('ZREM', P .. 'otimers', member)
        kind = 'obligation.missed'
      else
        redis.call('ZADD', P .. 'otimers', nextDue, member)
      end
      redis.call('HSET', hk, oid, cjson.encode(o))
      audit(now, kind, 'muster', 'INC-' .. num, data)
      changed('INC-' .. num)
    end
  end
  out[r] = res
end
return out
