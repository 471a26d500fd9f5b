-- Record the outcomes of a batch of sends, each atomically:
--   sent: an audit event says so (message.sent, about the record the
--     message names: a task's timeline shows it); several sent in one
--     batch share one event (messages.sent, data a JSON array of
--     {subject, data}, which timelines read as one message.sent each):
--     an event each cost Redis more than the rest of the outcome;
--   failed (never retried: an invalid number, a refusal, retries used
--     up): the failure is audited (outbox.failed; the task's timeline
--     shows it);
--   dropped (its task closed before it went out): it leaves without a
--     record, as the take drops such messages;
--   retry: the message goes back on its lane at the given time, if this
--     taker still holds it.
-- A message is either in a lane (taken from it under a lease, its fields
-- in outbox:m:<id>) or direct: an unpaced one sent straight from the
-- outbox stream, pending in the consumer group under this process until
-- its outcome is acknowledged here. A direct message that is retried
-- moves into its lane; one whose entry another process already took over
-- (its lease ran out) is 'gone' and records nothing. Acknowledged entries
-- are trimmed from the stream, up to the oldest still pending.
-- ARGV: now ms, consumer group, number of outcomes, then per outcome:
--       message id, outcome, detail text, retry at ms, token, direct ('1'
--       or ''), lane, the audit event's subject and data JSON (sent and
--       failed), channel, then only for a direct one retried (whose
--       fields its lane needs) the message: key, to, site, kind, ref,
--       text, task, drill, queued
-- Returns one result per outcome: ok, gone or stale.
local now, group = ARGV[1], ARGV[2]
local stream = P .. 'outbox'
local out = {}
local acked = false -- whether an entry was acknowledged here
local sent = {}     -- {subject, data} of each message sent
local i = 4
for r = 1, tonumber(ARGV[3]) do
  local id, outcome, detail, retryAt, token, direct, lname, ref, data = ARGV[i], ARGV[i + 1], ARGV[i + 2],
    ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8]
  local channel, f = ARGV[i + 9], i + 10
  i = i + 10
  if direct == '1' and outcome == 'retry' then i = i + 9 end
  local mk = P .. 'outbox:m:' .. id
  local res = 'ok'
  if direct == '1' then
    if redis.call('XACK', stream, group, id) == 0 then
      res = 'gone'
    else
      acked = true
      if outcome == 'retry' then
        redis.call('HSET', mk, 'key', ARGV[f], 'channel', channel, 'to', ARGV[f + 1], 'site', ARGV[f + 2],
          'kind', ARGV[f + 3], 'ref', ARGV[f + 4], 'text', ARGV[f + 5], 'task', ARGV[f + 6], 'drill', ARGV[f + 7],
          'queued', ARGV[f + 8], 'lane', lname, 'attempts', 1, 'first', ARGV[f + 8], 'last_error', detail)
        redis.call('ZADD', P .. 'outbox:lane:' .. lname, retryAt, id)
        redis.call('SADD', P .. 'outbox:lanes', lname)
      end
    end
  else
    local m = redis.call('HMGET', mk, 'lane', 'claim')
    if not m[1] then
      res = 'gone'
    elseif outcome == 'retry' then
      if m[2] ~= token then
        res = 'stale'
      else
        redis.call('HSET', mk, 'last_error', detail)
        redis.call('HDEL', mk, 'claim')
        redis.call('ZADD', P .. 'outbox:lane:' .. m[1], retryAt, id)
      end
    else
      redis.call('DEL', mk)
      redis.call('ZREM', P .. 'outbox:lane:' .. m[1], id)
    end
  end
  if res == 'ok' and outcome ~= 'retry' then
    if outcome == 'sent' then
      sent[#sent + 1] = {ref, data}
    elseif outcome == 'failed' then
      audit(now, 'outbox.failed', 'muster', ref, data)
    end
    -- The chat surfaces that took it (store/surfaces.go) matter only
    -- while it may be sent again.
    if channel == 'chat' then redis.call('DEL', P .. 'outbox:surfaces:' .. id) end
  end
  out[r] = res
end
if #sent == 1 then
  audit(now, 'message.sent', 'muster', sent[1][1], sent[1][2])
elseif #sent > 1 then
  local items = {}
  for k, m in ipairs(sent) do
    local data = m[2]
    if data == '' then data = '{}' end
    items[k] = '{"subject":' .. cjson.encode(m[1]) .. ',"data":' .. data .. '}'
  end
  audit(now, 'messages.sent', 'muster', '', '[' .. table.concat(items, ',') .. ']')
end
if acked then
  -- Entries are read in order, and one read is pending until it is done,
  -- so every entry before the oldest still pending is done (acknowledged
  -- here or moved into a lane); with none pending, every entry read is.
  -- Trimming to the latest acknowledged here instead left behind an
  -- entry done earlier whenever the last to finish was an older one.
  local p = redis.call('XPENDING', stream, group)
  local upto = p[2]
  if not upto then
    local groups = redis.call('XINFO', 'GROUPS', stream)
    for _, g in ipairs(groups) do
      local info = {}
      for k = 1, #g, 2 do info[g[k]] = g[k + 1] end
      if info.name == group then upto = info['last-delivered-id'] end
    end
    local ms, seq = string.match(upto or '0-0', '^(%d+)-(%d+)$')
    upto = ms .. '-' .. tostring(tonumber(seq) + 1)
  end
  redis.call('XTRIM', stream, 'MINID', upto)
end
return out
