-- Queue messages that are not part of a record transition (shift
-- hand-over notices), each at most once per idempotency key, so several
-- processes noticing the same hand-over post it once.
-- ARGV: now, messages JSON
local n = 0
for _, m in ipairs(cjson.decode(ARGV[2])) do
  if enqueue(m, ARGV[1]) then n = n + 1 end
end
return n
