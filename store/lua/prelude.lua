-- Shared by every muster script. KEYS[1] is the namespace prefix
-- "muster:{ns}:"; every other key is built from it, so all keys of a
-- script share one hash tag and one Redis Cluster slot.
local P = KEYS[1]

-- audit appends one event to the namespace's append-only audit stream.
-- It runs inside the same script as the change it records, so the change
-- and its record land together or not at all.
local function audit(now, kind, actor, subject, data)
  redis.call('XADD', P .. 'audit', '*', 'at', now, 'kind', kind, 'actor', actor,
    'subject', subject, 'data', data)
end

-- timeline appends one entry to a record's timeline stream.
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
local function enqueue(m, now)
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
