"""The chronic-disease indicators of DOMAIN.md §2 computed by DuckDB over the rows a
Gongti SQLite database holds: the reference `gongti-bench chronic` measures against.

Usage: python bench_duckdb.py GONGTI_DB FROM TO [REPEAT]
Prints one JSON line: {"load_s", "compute_s" (the median of REPEAT runs of the query,
default 1), "runs_s", "hypertension": {code: [num, den]}, ...}.
The definitions mirror docs/indicators.md; the benchmark checks the figures agree.
"""
import csv
import datetime
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

TABLES = {
    "enrolments": "SELECT id, resident_id, disease, enrolled_on, ended_on FROM chronic_enrolments",
    "followups": "SELECT enrolment_id, id, visit_on, counts_face_to_face, age_years, sbp_mmhg, dbp_mmhg,"
    " fpg_centi_mmol, hba1c_centi_percent FROM followups",
    "readings": "SELECT resident_id, taken_at_us FROM home_readings",
}


def load(db: str) -> tuple[duckdb.DuckDBPyConnection, float]:
    started = time.perf_counter()
    src = sqlite3.connect(db)
    out = Path(tempfile.mkdtemp(prefix="gongti-duck-"))
    con = duckdb.connect()
    for name, query in TABLES.items():
        cur = src.execute(query)
        path = out / f"{name}.csv"
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow([c[0] for c in cur.description])
            w.writerows(cur)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv_auto('{path}', header=true)")
    return con, time.perf_counter() - started


SQL = """
WITH e AS (
  -- at_end: still enrolled on the period's last day (asked about missed visit and
  -- loss to follow-up only then; docs/indicators.md)
  SELECT *, (ended_on IS NULL OR CAST(ended_on AS DATE) >= $to) AS at_end FROM enrolments
  WHERE CAST(enrolled_on AS DATE) <= $to AND (ended_on IS NULL OR CAST(ended_on AS DATE) >= $from)
),
f AS (
  SELECT enrolment_id, id, CAST(visit_on AS DATE) AS visit_on, CAST(counts_face_to_face AS BOOLEAN) AS f2f,
         age_years, sbp_mmhg, dbp_mmhg, fpg_centi_mmol, hba1c_centi_percent
  FROM followups
),
inp AS (SELECT * FROM f WHERE visit_on BETWEEN $from AND $to),
f2f AS (SELECT enrolment_id, count(*) FILTER (WHERE f2f) AS n FROM inp GROUP BY 1),
bp AS (
  SELECT enrolment_id,
         arg_max(CASE WHEN sbp_mmhg < (CASE WHEN age_years >= 65 THEN 150 ELSE 140 END) AND dbp_mmhg < 90
                      THEN 1 ELSE 0 END, epoch(visit_on) * 100000000 + id) AS ok
  FROM inp WHERE sbp_mmhg IS NOT NULL GROUP BY 1
),
fpg AS (
  SELECT enrolment_id, arg_max(CASE WHEN fpg_centi_mmol < 700 THEN 1 ELSE 0 END, epoch(visit_on) * 100000000 + id) AS ok
  FROM inp WHERE fpg_centi_mmol IS NOT NULL GROUP BY 1
),
a1c AS (
  SELECT enrolment_id, arg_max(CASE WHEN hba1c_centi_percent < 700 THEN 1 ELSE 0 END, epoch(visit_on) * 100000000 + id) AS ok
  FROM inp WHERE hba1c_centi_percent IS NOT NULL GROUP BY 1
),
seen AS (SELECT DISTINCT enrolment_id FROM f WHERE f2f AND visit_on BETWEEN $to - INTERVAL 89 DAY AND $to),
contact_visit AS (SELECT DISTINCT enrolment_id FROM f WHERE visit_on BETWEEN $to - INTERVAL 364 DAY AND $to),
contact_reading AS (
  SELECT DISTINCT resident_id FROM readings
  WHERE DATE '1970-01-01' + CAST((taken_at_us // 1000000 + 28800) // 86400 AS INTEGER)
        BETWEEN $to - INTERVAL 364 DAY AND $to
)
SELECT e.disease,
  count(*) AS managed,
  count(*) FILTER (WHERE coalesce(f2f.n, 0) >= $required) AS standardised,
  count(*) FILTER (WHERE bp.ok = 1) AS bp_ok,
  count(*) FILTER (WHERE fpg.ok = 1) AS fpg_ok,
  count(*) FILTER (WHERE a1c.ok = 1) AS a1c_ok,
  count(a1c.enrolment_id) AS a1c_measured,
  count(*) FILTER (WHERE e.at_end AND CAST(e.enrolled_on AS DATE) <= $to - INTERVAL 90 DAY) AS missed_eligible,
  count(*) FILTER (WHERE e.at_end AND CAST(e.enrolled_on AS DATE) <= $to - INTERVAL 90 DAY AND seen.enrolment_id IS NULL) AS missed,
  count(*) FILTER (WHERE e.at_end AND CAST(e.enrolled_on AS DATE) <= $to - INTERVAL 365 DAY) AS lost_eligible,
  count(*) FILTER (WHERE e.at_end AND CAST(e.enrolled_on AS DATE) <= $to - INTERVAL 365 DAY
                   AND cv.enrolment_id IS NULL AND cr.resident_id IS NULL) AS lost
FROM e
LEFT JOIN f2f ON f2f.enrolment_id = e.id
LEFT JOIN bp ON bp.enrolment_id = e.id
LEFT JOIN fpg ON fpg.enrolment_id = e.id
LEFT JOIN a1c ON a1c.enrolment_id = e.id
LEFT JOIN seen ON seen.enrolment_id = e.id
LEFT JOIN contact_visit cv ON cv.enrolment_id = e.id
LEFT JOIN contact_reading cr ON cr.resident_id = e.resident_id
GROUP BY e.disease
"""


def main(db: str, start: str, end: str, repeat: str = "1") -> int:
    con, load_s = load(db)
    d_from = datetime.date.fromisoformat(start)
    d_to = datetime.date.fromisoformat(end)
    required = max(1, ((d_to - d_from).days + 1) // 90)
    runs = []
    for _ in range(max(1, int(repeat))):
        started = time.perf_counter()
        rows = con.execute(SQL, {"from": d_from, "to": d_to, "required": required}).fetchall()
        runs.append(time.perf_counter() - started)
    out = {"load_s": load_s, "compute_s": statistics.median(runs), "runs_s": runs}
    for disease, managed, std, bp_ok, fpg_ok, a1c_ok, a1c_n, m_el, missed, l_el, lost in rows:
        figures = {
            "standardised_management": [std, managed],
            "missed_visit": [missed, m_el],
            "lost_to_follow_up": [lost, l_el],
        }
        if disease == "hypertension":
            figures["bp_control"] = [bp_ok, managed]
        else:
            figures["glucose_control"] = [fpg_ok, managed]
            figures["hba1c_target"] = [a1c_ok, a1c_n]
        out[disease] = figures
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
