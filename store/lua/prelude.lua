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
