-- Ended enrolments (结案) per scope, programme, effect (out of "managed", out of the
-- missed-visit or the lost-to-follow-up window's eligible patients) and the first day
-- it applies from (core::chronic::maintained::EndingEffect::from_day): one row per day.
-- enrolment_endings held one row per (ended, enrolled) pair, and a city-wide dashboard
-- read summed tens of thousands of them at Tianjin's scale (BENCHMARKS.md).
CREATE TABLE ending_counts (
    scope TEXT NOT NULL,
    disease TEXT NOT NULL,
    effect TEXT NOT NULL,
    day TEXT NOT NULL,
    ended INTEGER NOT NULL,
    PRIMARY KEY (scope, disease, effect, day)
);
DROP TABLE enrolment_endings;
-- The days depend on the windows' lengths: the counters are rebuilt from the records
-- on the next start.
DELETE FROM settings WHERE key = 'indicator_counters';
