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
-- A paced message whose lane holds nothing and whose sender has a slot
-- free now or within the horizon skips the lane: its slot is reserved (as
-- lua/outbox_take.lua reserves them) and it is sent straight from the
-- stream, pending in the consumer group under this process until its
-- outcome is recorded, as an unpaced message is (result 'direct', with
-- its slot in µs as text, '0' for now). One about a task that closed
-- meanwhile is dropped here ('dropped'). This spares Redis the lane's
-- writes and a take for each message of a call-out the sender keeps up
-- with; a lane with a backlog keeps its order.
-- The straight path reads nothing of the entry: the caller passes the
-- task it names (read with it), whose status is all it needs. Only an
-- entry for the lane is read from the stream, to store its fields.
-- ARGV: now ms, group, routes JSON [{id=, lane=, capacity=, unsure=,
--       interval=µs (0: unpaced or no straight path), burst=µs, ahead=µs,
--       task= (the entry's task, '' for none)}], now µs
-- Returns JSON [{id=, result=ok|gone|refused|direct|dropped, task=, key=,
-- channel=, to=, at=}]; task, key, channel and to only for entries read
-- (ok, refused).
local now, group = ARGV[1], ARGV[2]
local nowus = tonumber(ARGV[4] or '0')
local out = {}
local paces = {} -- lane -> {tat0 = as read, tat = as reserved here}
local held = {}  -- lane -> whether it holds messages (read once)
local function holds(lane)
  if held[lane] == nil then held[lane] = redis.call('ZCARD', lane) > 0 end
  return held[lane]
end
for _, r in ipairs(cjson.decode(ARGV[3])) do
  local res = {id = r.id, result = 'gone'}
  local lane = P .. 'outbox:lane:' .. r.lane
  local interval = tonumber(r.interval) or 0
  local straight = false
  if interval > 0 and nowus > 0 and not r.unsure and not holds(lane) then
    local pc = paces[r.lane]
    if not pc then
      local t0 = tonumber(redis.call('GET', P .. 'outbox:pace:' .. r.lane) or '0')
      pc = {tat0 = t0, tat = math.max(t0, nowus)}
      paces[r.lane] = pc
    end
    local burst = tonumber(r.burst) or 0
    if pc.tat - nowus <= burst + (tonumber(r.ahead) or 0) then
      straight = true
      local st = 'open'
      if r.task and r.task ~= '' then st = redis.call('HGET', P .. 'task:' .. r.task, 'status') end
      if st ~= 'open' and st ~= 'unanswered' then
        res.result = 'dropped'
        redis.call('XACK', P .. 'outbox', group, r.id)
        redis.call('XDEL', P .. 'outbox', r.id)
      else
        res.result, res.at = 'direct', '0'
        if pc.tat - nowus > burst then res.at = string.format('%.0f', pc.tat - burst) end
        pc.tat = pc.tat + interval
      end
    end
  end
  if not straight then
    local e = redis.call('XRANGE', P .. 'outbox', r.id, r.id)
    if #e > 0 then
      local f = {}
      local kv = e[1][2]
      for i = 1, #kv, 2 do f[kv[i]] = kv[i + 1] end
      local packed = f.m
      if packed then
        -- An escalation step's entry: its message as JSON in one field,
        -- which its lane keeps as it is (with the fields a take checks).
        local queued = f.queued
        f = cjson.decode(packed)
        f.queued = queued
      end
      res.task, res.key, res.channel, res.to = f.task or '', f.key or '', f.channel or '', f.to or ''
      local cap = tonumber(r.capacity) or 0
      if cap > 0 and redis.call('ZCARD', lane) >= cap then
        res.result = 'refused'
        audit(now, 'outbox.refused', 'muster', f.ref or '', cjson.encode({lane = r.lane, key = f.key, capacity = cap,
          channel = f.channel or '', to = f.to or ''}))
      else
        res.result = 'ok'
        local mk = P .. 'outbox:m:' .. r.id
        if packed then
          redis.call('HSET', mk, 'm', packed, 'channel', f.channel or 'chat', 'task', f.task or '',
            'queued', f.queued or now, 'lane', r.lane, 'attempts', 0)
        else
          redis.call('HSET', mk, 'key', f.key or '', 'channel', f.channel or 'chat', 'to', f.to or '',
            'site', f.site or '', 'kind', f.kind or '', 'ref', f.ref or '', 'text', f.text or '',
            'task', f.task or '', 'drill', f.drill or '', 'queued', f.queued or now, 'lane', r.lane, 'attempts', 0)
        end
        if r.unsure then
          redis.call('HSET', mk, 'unsure', '1', 'first', f.queued or now)
        end
        redis.call('ZADD', lane, now, r.id)
        redis.call('SADD', P .. 'outbox:lanes', r.lane)
        held[lane] = true
      end
      redis.call('XACK', P .. 'outbox', group, r.id)
      redis.call('XDEL', P .. 'outbox', r.id)
    end
  end
  out[#out + 1] = res
end
for lname, pc in pairs(paces) do
  if pc.tat ~= math.max(pc.tat0, nowus) then
    redis.call('SET', P .. 'outbox:pace:' .. lname, string.format('%.0f', pc.tat), 'PX', 3600000)
  end
end
return cjson.encode(out)
