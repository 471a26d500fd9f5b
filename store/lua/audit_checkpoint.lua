-- Record a retention prune in the audit chain before anything is removed:
-- the checkpoint event names the last seq to be pruned and its hash, and
-- the chain head keeps a copy (and that event's stream id), so the events
-- left verify on their own (and a prune that stops halfway still
-- verifies). Only sealed events are pruned, and the event at last id must
-- still be there.
-- ARGV: now, actor, last id to prune ('' when no event is pruned),
--       its seq, its hash, checkpoint data JSON
local now, actor, lid, lseq, lhash = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local hk = P .. 'audit:head'
if lid ~= '' then
  if #redis.call('XRANGE', P .. 'audit', lid, lid) == 0 then return redis.error_reply('notfound') end
  local sealed = tonumber(redis.call('HGET', hk, 'seq') or '0')
  if sealed < tonumber(lseq) then return redis.error_reply('state:unsealed') end
end
local id = audit(now, 'records.pruned', actor, 'audit', ARGV[6])
if lid ~= '' then
  redis.call('HSET', hk, 'pruned_to', lseq, 'pruned_hash', lhash, 'pruned_id', lid)
end
return id
