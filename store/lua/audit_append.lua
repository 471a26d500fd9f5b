-- Append one audit event that is not part of a record transition (a
-- configuration load, an export), chained like every other event.
-- ARGV: now, kind, actor, subject, data JSON
return audit(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
