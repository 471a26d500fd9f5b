-- Record a retention prune in the audit chain before anything is removed:
-- the checkpoint event names the last seq to be pruned and its hash, and
-- the chain head keeps a copy, so the events left verify on their own
-- (and a prune that stops halfway still verifies). The event at last id
-- must still be the one the caller read.
-- ARGV: now, actor, last id to prune ('' when no event is pruned),
--       its seq, its hash, checkpoint data JSON
local now, actor, lid, lseq, lhash = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if lid ~= '' then
  local e = redis.call('XRANGE', P .. 'audit', lid, lid)
  if #e == 0 then return redis.error_reply('notfound') end
  local f = e[1][2]
  local seq, hash
  for i = 1, #f, 2 do
    if f[i] == 'seq' then seq = f[i + 1] end
    if f[i] == 'hash' then hash = f[i + 1] end
  end
  if seq ~= lseq or hash ~= lhash then return redis.error_reply('state:changed') end
end
local h = audit(now, 'records.pruned', actor, 'audit', ARGV[6])
if lid ~= '' then
  redis.call('HSET', P .. 'audit:head', 'pruned_to', lseq, 'pruned_hash', lhash)
end
return h
