-- 签约率 kept as records are written (gongti_core::contract::coverage_parts): per
-- scope ('c', 'd:<district>', 'i:<institution>' — the resident's home institution),
-- measure (residents, contracted, managed, managed_contracted) and the day a change
-- takes effect, the change in residents counted. A scope's figure on a day is the sum
-- of its rows dated that day or earlier. Counting the register per dashboard took
-- 1.2 s for the city at 1,000,000 residents (BENCHMARKS.md).
CREATE TABLE coverage_counts (
    scope TEXT NOT NULL,
    measure TEXT NOT NULL,
    day DATE NOT NULL,
    residents BIGINT NOT NULL,
    PRIMARY KEY (scope, measure, day)
);
-- Built from the records with the other kept figures on the next start.
DELETE FROM settings WHERE key = 'indicator_counters';
