-- Write a sealed head (store/seal.go): the chain reached seq `to` with
-- hash, at the event with stream id `id`. Only if the head is still the
-- one the sealer read (expected id and seq): a second sealer, or one
-- whose lease ran out, cannot write a head beside another's. The seal
-- (with the events' content digests) is kept in audit:seals for verify.
-- ARGV: expected head id ('' none), expected head seq, from, to, hash, id,
--       sealed at ms, signature hex (''), public key hex (''), digests
local hk = P .. 'audit:head'
local h = redis.call('HMGET', hk, 'id', 'seq')
if (h[1] or '') ~= ARGV[1] or (h[2] or '0') ~= ARGV[2] then
  return redis.error_reply('state:moved')
end
redis.call('HSET', hk, 'seq', ARGV[4], 'hash', ARGV[5], 'id', ARGV[6], 'at', ARGV[7], 'sig', ARGV[8], 'key', ARGV[9])
redis.call('XADD', P .. 'audit:seals', '*', 'from', ARGV[3], 'to', ARGV[4], 'hash', ARGV[5], 'id', ARGV[6],
  'at', ARGV[7], 'sig', ARGV[8], 'key', ARGV[9], 'd', ARGV[10])
return 'ok'
