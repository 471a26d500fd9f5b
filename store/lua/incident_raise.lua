-- ARGV: now, site, category, severity, reporter, text, audit data (JSON),
--       messages JSON (their text may hold the id placeholder),
--       obligations JSON (the clocks the incident starts)
local now = ARGV[1]
local n = raise(now, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
for _, m in ipairs(cjson.decode(ARGV[8])) do enqueue(m, now, 'INC-' .. n) end
startObligations(n, cjson.decode(ARGV[9] or '[]'), now, ARGV[5])
return n
