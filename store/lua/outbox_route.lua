-- Route messages from the outbox stream into their delivery lanes, one
-- step per message: the stream entry is acknowledged and deleted in the
-- same script that stores the message and schedules it in its lane, so a
-- message is never in both places, nor in neither. A lane is a sorted set
-- of message ids scored by the time (ms) each may next be sent; paced
-- lanes (SMS, voice) are drained at the sender's rate, the chat lane at
-- once, so chat never waits behind a paced call-out.
-- A paced lane refuses a message once it holds `capacity` messages (what
-- the sender can send in 4 hours): the refusal is audited (the task's
-- timeline shows it) and the caller moves the task's escalation on.
-- An entry taken over from a process that died (unsure) may have been
-- sent already, straight from the stream: it is marked so, and the
-- notifier looks it up before sending it again.
-- ARGV: now ms, group, routes JSON [{id=, lane=, capacity=, unsure=}]
-- Returns JSON [{id=, result=ok|gone|refused, task=, key=, channel=, to=}]
local now, group = ARGV[1], ARGV[2]
local out = {}
for _, r in ipairs(cjson.decode(ARGV[3])) do
  local res = {id = r.id, result = 'gone'}
  local e = redis.call('XRANGE', P .. 'outbox', r.id, r.id)
  if #e > 0 then
    local f = {}
    local kv = e[1][2]
    for i = 1, #kv, 2 do f[kv[i]] = kv[i + 1] end
    res.task, res.key, res.channel, res.to = f.task or '', f.key or '', f.channel or '', f.to or ''
    local lane = P .. 'outbox:lane:' .. r.lane
    local cap = tonumber(r.capacity) or 0
    if cap > 0 and redis.call('ZCARD', lane) >= cap then
      res.result = 'refused'
      audit(now, 'outbox.refused', 'muster', f.ref or '', cjson.encode({lane = r.lane, key = f.key, capacity = cap,
        channel = f.channel or '', to = f.to or ''}))
    else
      res.result = 'ok'
      local mk = P .. 'outbox:m:' .. r.id
      redis.call('HSET', mk, 'key', f.key or '', 'channel', f.channel or 'chat', 'to', f.to or '',
        'site', f.site or '', 'kind', f.kind or '', 'ref', f.ref or '', 'text', f.text or '',
        'task', f.task or '', 'drill', f.drill or '', 'queued', f.queued or now, 'lane', r.lane, 'attempts', 0)
      if r.unsure then
        redis.call('HSET', mk, 'unsure', '1', 'first', f.queued or now)
      end
      redis.call('ZADD', lane, now, r.id)
      redis.call('SADD', P .. 'outbox:lanes', r.lane)
    end
    redis.call('XACK', P .. 'outbox', group, r.id)
    redis.call('XDEL', P .. 'outbox', r.id)
  end
  out[#out + 1] = res
end
return cjson.encode(out)
