-- Take messages from one delivery lane for sending, under a lease: each
-- taken message is re-scored to the end of the lease and stamped with the
-- taker's token, so a process that dies mid-send leaves it to be taken
-- again when the lease ends (as the escalation timers do).
-- A message about a task is only taken while the task is open (or gone
-- unanswered: after an outage the catch-up may run a task's last steps
-- before their notices are delivered, and those must still go out): the
-- check and the take are one step, so no send is taken after an
-- acknowledgement was recorded; such messages are dropped.
-- Pacing is a GCRA (generic cell rate algorithm) shared by every process
-- through the lane's `pace` key, which holds the theoretical arrival time
-- (TAT, µs) of the next send: a send is allowed when TAT - now <= burst,
-- and then moves TAT one interval on. Checking and moving it here, in the
-- same script as the take, keeps processes from overrunning the rate
-- together.
-- A message taken again may already have gone out: Twilio's Messages API
-- takes no idempotency key. Its previous attempt's outcome is unknown when
-- the previous taker's `claim` is still set (it died, or ran out of its
-- lease, before recording success, retry or failure), or when the
-- recorded error says the request may have reached the provider (its text
-- holds "outcome unknown", store.OutcomeUnknown: a timeout or a dropped
-- connection after the request was written). Such a message is marked
-- `unsure`, for good, so the notifier looks for it before sending again;
-- `first` is when it was first taken, where that lookup starts. Both
-- fields go out in the HSET every take makes anyway: a message whose
-- outcomes were all recorded costs no extra command.
-- A paced take may also reserve the lane's next slots a little ahead
-- (the horizon): each message it takes is given its slot, the time it may
-- be sent, and the taker holds it until then. So a lane paced at
-- thousands a second is taken many messages at a time, not one per
-- script, and still never sent faster than its rate.
-- ARGV: now ms, now µs, lane, limit, lease until ms, token,
--       interval µs (0: unpaced), burst µs, horizon µs (how far ahead
--       slots may be reserved; 0: none)
-- Returns JSON {wait=µs until pacing allows the next send (0: not paced
-- now), next=ms of the lane's earliest message still waiting (0: none),
-- taken=[messages, each with at = its slot in µs as text ('0': send now)],
-- dropped=[{id=, key=, task=, channel=, to=}]}
local now, nowus, lname, limit = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local lease, token = ARGV[5], ARGV[6]
local interval, burst = tonumber(ARGV[7]), tonumber(ARGV[8])
local horizon = tonumber(ARGV[9] or '0')
local lane = P .. 'outbox:lane:' .. lname
local pace = P .. 'outbox:pace:' .. lname
local taken, dropped = {}, {}
local wait = 0
-- The lane's theoretical arrival time, read once and written back once.
local tat, tat0
if interval > 0 then
  tat0 = tonumber(redis.call('GET', pace) or '0')
  tat = math.max(tat0, nowus)
  if tat - nowus > burst + horizon then
    -- Pacing holds every send: nothing to look at.
    wait = tat - burst - horizon - nowus
    limit = 0
  else
    -- As many as the slots up to the horizon allow.
    limit = math.min(limit, math.floor((burst + horizon - (tat - nowus)) / interval) + 1)
  end
end
local ids = {}
if limit > 0 then ids = redis.call('ZRANGEBYSCORE', lane, '-inf', now, 'LIMIT', 0, limit * 2 + 10) end
for _, id in ipairs(ids) do
  if #taken >= limit then break end
  local mk = P .. 'outbox:m:' .. id
  local m = redis.call('HMGET', mk, 'key', 'channel', 'to', 'site', 'kind', 'ref', 'text', 'task',
    'drill', 'queued', 'attempts', 'last_error', 'claim', 'unsure', 'first', 'm')
  if not m[2] then
    redis.call('ZREM', lane, id)
  else
    local open = true
    if m[8] and m[8] ~= '' then
      local st = redis.call('HGET', P .. 'task:' .. m[8], 'status')
      open = st == 'open' or st == 'unanswered'
    end
    if not open then
      redis.call('ZREM', lane, id)
      redis.call('DEL', mk)
      dropped[#dropped + 1] = {id = id, key = m[1] or nil, channel = m[2], to = m[3] or nil, task = m[8] or nil,
        m = m[16] or nil}
    else
      local at = '0'
      if interval > 0 then
        if tat - nowus > burst + horizon then
          wait = tat - burst - horizon - nowus
          break
        end
        -- Its slot: the earliest time the send conforms to the rate.
        if tat - nowus > burst then at = string.format('%.0f', tat - burst) end
        tat = tat + interval
      end
      local attempts = redis.call('HINCRBY', mk, 'attempts', 1)
      local set = {'HSET', mk, 'claim', token}
      local unsure = m[14] == '1'
      if not unsure and ((m[13] and m[13] ~= '') or
          (m[12] and string.find(m[12], 'outcome unknown', 1, true))) then
        unsure = true
        set[#set + 1], set[#set + 2] = 'unsure', '1'
      end
      local first = m[15]
      if not first then
        first = now
        set[#set + 1], set[#set + 2] = 'first', now
      end
      redis.call(unpack(set))
      redis.call('ZADD', lane, lease, id)
      -- An escalation step's message is one JSON field (m), passed on as
      -- it is; the others have a field each.
      -- (A field the hash lacks is false here: "or nil" leaves it out.)
      taken[#taken + 1] = {id = id, key = m[1] or nil, channel = m[2], to = m[3] or nil, site = m[4] or nil,
        kind = m[5] or nil, ref = m[6] or nil, text = m[7] or nil, task = m[8] or nil, drill = m[9] or nil,
        queued = m[10] or nil, attempts = attempts, last_error = m[12] or '', unsure = unsure, first = first,
        at = at, m = m[16] or nil}
    end
  end
end
if tat and tat ~= math.max(tat0, nowus) then
  redis.call('SET', pace, string.format('%.0f', tat), 'PX', 3600000)
end
local next = 0
local first = redis.call('ZRANGE', lane, 0, 0, 'WITHSCORES')
if #first > 0 then next = tonumber(first[2]) end
return cjson.encode({wait = wait, next = next, taken = taken, dropped = dropped})
