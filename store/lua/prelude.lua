-- Shared by every muster script. KEYS[1] is the namespace prefix
-- "muster:{ns}:"; every other key is built from it, so all keys of a
-- script share one hash tag and one Redis Cluster slot.
local P = KEYS[1]

-- A chat request's replay guard (store/guard.go) rides on the first
-- script its command runs: KEYS[2] is the key that remembers the request
-- (same hash tag, same Cluster slot) and the last ARGV its TTL in ms,
-- taken off here so the body sees its own arguments. A key already set
-- means the request was handled before: refuse before anything changes.
if KEYS[2] then
  local guardttl = table.remove(ARGV)
  if not redis.call('SET', KEYS[2], 1, 'NX', 'PX', guardttl) then
    return redis.error_reply('replayed')
  end
end

-- audit appends one event to the namespace's append-only audit stream.
-- It runs inside the same script as the change it records, so the change
-- and its record land together or not at all. It computes no hash: the
-- stream's order is the chain's order, and the sealer (store/seal.go)
-- hashes new events in Go, in batches, and signs the chain's head soon
-- after. Every event has the same five fields in the same order, so Redis
-- stores their names once per stream node.
-- It returns the event's stream id.
local function audit(now, kind, actor, subject, data)
  local function str(v)
    if v == nil or v == false then return '' end
    return tostring(v)
  end
  return redis.call('XADD', P .. 'audit', '*', 'at', str(now), 'kind', str(kind), 'actor', str(actor),
    'subject', str(subject), 'data', str(data))
end

-- timeline appends one entry to an incident's timeline stream (what
-- /incident show reads), always with the audit event it stands for, which
-- audit verify checks it against. Tasks and activations keep no timeline
-- of their own: theirs are read from the audit chain (store/timeline.go).
local function timeline(key, now, actor, kind, text)
  redis.call('XADD', key, '*', 'at', now, 'actor', actor, 'kind', kind, 'text', text)
end

-- changed tells every muster process that a record changed, so chat
-- surfaces can refresh its card (Slack chat.update, Discord edit).
local function changed(ref)
  redis.call('XADD', P .. 'changes', 'MAXLEN', '~', 10000, '*', 'ref', ref)
end

-- enqueue puts one outgoing message on the durable outbox, at most once
-- per idempotency key: a retried step never enqueues the same send twice.
-- m is a table with key, channel, to, site, kind, ref, text, task, drill.
-- fillid writes a record's id, only known inside the script that makes
-- it, where a message's text holds the placeholder \1ID\1 (ph names
-- another spelling of it: in JSON text it is \u0001ID\u0001).
local function fillid(text, id, ph)
  ph = ph or '\1ID\1'
  local i = string.find(text or '', ph, 1, true)
  while i do
    text = string.sub(text, 1, i - 1) .. id .. string.sub(text, i + string.len(ph))
    i = string.find(text, ph, 1, true)
  end
  return text
end

local function enqueue(m, now, id)
  if id then
    m.text = fillid(m.text, id)
    if not m.ref or m.ref == '' then m.ref = id end
  end
  if m.key and m.key ~= '' then
    local fresh = redis.call('SET', P .. 'sent:' .. m.key, now, 'NX', 'PX', 604800000)
    if not fresh then return false end
  end
  redis.call('XADD', P .. 'outbox', '*', 'key', m.key or '', 'channel', m.channel or 'chat',
    'to', m.to or '', 'site', m.site or '', 'kind', m.kind or '', 'ref', m.ref or '',
    'text', m.text or '', 'task', m.task or '', 'drill', m.drill or '', 'queued', now)
  return true
end

-- wake tells the engines of every process that the earliest deadline may
-- have moved, so none has to poll.
local function wake(due)
  redis.call('PUBLISH', P .. 'wake', due)
end

-- raise records a new incident (open), its first timeline entry and its
-- audit event, and returns its number. incident_raise.lua and the
-- transitions that raise one as part of their own change (a HELP in a roll
-- call, a lone worker's missed check-in) share it, so an incident looks the
-- same whoever raised it.
local function raise(now, site, category, severity, reporter, text, data)
  local n = redis.call('INCR', P .. 'seq:incident')
  local id = 'INC-' .. n
  local k = P .. 'incident:' .. n
  redis.call('HSET', k, 'id', id, 'num', n, 'site', site, 'category', category,
    'severity', severity, 'reporter', reporter, 'text', text, 'status', 'open',
    'created', now, 'updated', now)
  redis.call('ZADD', P .. 'incidents', n, n)
  redis.call('ZADD', P .. 'incidents:open', n, n)
  timeline(k .. ':timeline', now, reporter, 'raised', text)
  audit(now, 'incident.raised', reporter, id, data)
  changed(id)
  return n
end

-- startObligations starts the clock of each obligation in list (decoded
-- JSON: id, contact, kind, owner, site, deadline, due = the reminder and
-- deadline times in ms) for incident n, unless that obligation's clock
-- already runs for it (a severity change that matches again). Each clock
-- is a record in the incident's obligations hash and a deadline in the
-- obligation timers, claimed by the escalation engines like a task's.
-- It returns how many clocks it started.
local function startObligations(n, list, now, actor)
  local k = P .. 'incident:' .. n .. ':obligations'
  local started = 0
  for _, o in ipairs(list) do
    if redis.call('HEXISTS', k, o.id) == 0 then
      o.status = 'pending'
      o.step = 0
      o.started = tonumber(now)
      redis.call('HSET', k, o.id, cjson.encode(o))
      local due = string.format('%.0f', o.due[1])
      redis.call('ZADD', P .. 'otimers', due, n .. ':' .. o.id)
      audit(now, 'obligation.started', actor, 'INC-' .. n, cjson.encode({obligation = o.id, contact = o.contact,
        kind = o.kind, owner = o.owner, deadline = o.deadline}))
      wake(due)
      started = started + 1
    end
  end
  return started
end
