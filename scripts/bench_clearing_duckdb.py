"""The year-end clearing's inputs of DOMAIN.md §6 computed by DuckDB over the rows a
Gongti SQLite database holds: the reference `gongti-bench clearing` measures against.

Usage: python bench_clearing_duckdb.py GONGTI_DB YEAR PARAMS_JSON [REPEAT]
PARAMS_JSON: the scheme version's parameters as GET /api/v1/payment/schemes/{id} gives
them (`params`: rate_fen.{kind}, weight.{first age}.{condition}).
Prints one JSON line: {"load_s", "compute_s" (the median of REPEAT runs, default 3),
"runs_s", "institutions": {id: {"budget_fen", "persons": [3], "person_days": [3],
"bureau_fen"}}}.

The rules mirror core::payment::membership (docs/payment.md): each contract from its
first day to its last (ended early, or its term's end), each chronic enrolment from
enrolment to its end (open: on), cut to the year and to the person's life; where spans
of one scheme overlap, a day belongs to the span that starts latest after the cut (then
the one that started latest, then the later row); the age on 1 January and the year's
condition pick the weight; B = Σ rate × weight × days ÷ days in year, rounded half up
once; a bureau settlement counts where the person counted that day — the contract in
force, else the hypertension enrolment, else the diabetes one.
"""
import csv
import datetime
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import duckdb

KINDS = ["contracted", "mt_hypertension", "mt_diabetes"]

DATES = {"birth_date", "deceased_on", "start_on", "end_on", "ended_on", "enrolled_on", "settled_on"}

TABLES = {
    "residents": "SELECT id, birth_date, deceased_on FROM residents",
    "contracts": "SELECT id, resident_id, institution_id, start_on, end_on, ended_on FROM contracts",
    "enrolments": "SELECT id, resident_id, disease, institution_id, enrolled_on, ended_on"
    " FROM chronic_enrolments WHERE disease IN ('hypertension', 'diabetes')",
    "bureau": "SELECT id, resident_id, settled_on, fund_fen FROM bureau_settlements"
    " WHERE settled_on BETWEEN ? AND ?",
}

SQL = """
WITH p AS (
  SELECT id, birth_date, deceased_on,
         greatest(CAST($jan1 AS DATE), birth_date) AS wfrom,
         least(CAST($dec31 AS DATE), coalesce(deceased_on, CAST($dec31 AS DATE))) AS wto,
         greatest(0, date_sub('year', birth_date, CAST($jan1 AS DATE))) AS age
  FROM residents
),
spans AS (
  SELECT 0 AS kind, id, resident_id, institution_id, start_on AS sfrom,
         CASE WHEN ended_on IS NOT NULL AND ended_on < end_on THEN ended_on ELSE end_on END AS sto
  FROM contracts
  UNION ALL
  SELECT CASE disease WHEN 'hypertension' THEN 1 ELSE 2 END, id, resident_id, institution_id,
         enrolled_on, coalesce(ended_on, DATE '9999-12-31')
  FROM enrolments
),
clip AS (
  SELECT s.kind, s.id, s.resident_id, s.institution_id, s.sfrom,
         greatest(s.sfrom, p.wfrom) AS a, least(s.sto, p.wto) AS b
  FROM spans s JOIN p ON p.id = s.resident_id
  WHERE greatest(s.sfrom, p.wfrom) <= least(s.sto, p.wto)
),
overlapping AS (
  SELECT DISTINCT c1.kind, c1.resident_id
  FROM clip c1 JOIN clip c2
    ON c1.kind = c2.kind AND c1.resident_id = c2.resident_id AND c1.id <> c2.id
   AND c2.a <= c1.b AND c2.b >= c1.a
),
plain AS (
  SELECT c.kind, c.resident_id, c.institution_id, sum(c.b - c.a + 1) AS days
  FROM clip c ANTI JOIN overlapping o ON o.kind = c.kind AND o.resident_id = c.resident_id
  GROUP BY 1, 2, 3
),
expanded AS (
  SELECT c.kind, c.resident_id, c.institution_id, c.a, c.sfrom, c.id,
         unnest(generate_series(CAST(c.a AS TIMESTAMP), CAST(c.b AS TIMESTAMP), INTERVAL 1 DAY)) AS day
  FROM clip c SEMI JOIN overlapping o ON o.kind = c.kind AND o.resident_id = c.resident_id
),
owned AS (
  SELECT kind, resident_id, institution_id, count(*) AS days FROM (
    SELECT *, row_number() OVER (PARTITION BY kind, resident_id, day ORDER BY a DESC, sfrom DESC, id DESC) AS rn
    FROM expanded
  ) WHERE rn = 1 GROUP BY 1, 2, 3
),
days AS (SELECT * FROM plain UNION ALL SELECT * FROM owned),
cond AS (
  SELECT resident_id,
         CASE WHEN bool_or(kind = 1) AND bool_or(kind = 2) THEN 'both'
              WHEN bool_or(kind = 1) THEN 'hypertension'
              WHEN bool_or(kind = 2) THEN 'diabetes' ELSE 'none' END AS condition
  FROM clip GROUP BY 1
),
weighed AS (
  SELECT d.kind, d.resident_id, d.institution_id, d.days, arg_max(w.weight_micro, w.band) AS weight_micro
  FROM days d JOIN p ON p.id = d.resident_id LEFT JOIN cond c ON c.resident_id = d.resident_id
  JOIN weights w ON w.condition = coalesce(c.condition, 'none') AND w.band <= p.age
  GROUP BY d.kind, d.resident_id, d.institution_id, d.days
),
budget AS (
  SELECT w.institution_id,
         sum(CAST(r.rate_fen AS HUGEINT) * w.weight_micro * w.days) AS numerator,
         count(*) FILTER (WHERE w.kind = 0) AS persons_0,
         count(*) FILTER (WHERE w.kind = 1) AS persons_1,
         count(*) FILTER (WHERE w.kind = 2) AS persons_2,
         coalesce(sum(w.days) FILTER (WHERE w.kind = 0), 0) AS days_0,
         coalesce(sum(w.days) FILTER (WHERE w.kind = 1), 0) AS days_1,
         coalesce(sum(w.days) FILTER (WHERE w.kind = 2), 0) AS days_2
  FROM weighed w JOIN rates r ON r.kind = w.kind
  GROUP BY 1
),
owner AS (
  SELECT b.id, b.fund_fen, s.institution_id,
         row_number() OVER (PARTITION BY b.id ORDER BY s.kind, s.sfrom DESC, s.id DESC) AS rn
  FROM bureau b JOIN p ON p.id = b.resident_id
  JOIN spans s ON s.resident_id = b.resident_id AND b.settled_on BETWEEN s.sfrom AND s.sto
  WHERE b.settled_on >= p.birth_date AND (p.deceased_on IS NULL OR b.settled_on <= p.deceased_on)
),
bureau_cost AS (
  SELECT institution_id, sum(fund_fen) AS bureau_fen FROM owner WHERE rn = 1 GROUP BY 1
)
SELECT coalesce(b.institution_id, c.institution_id) AS institution_id,
       coalesce(b.numerator, 0) AS numerator,
       coalesce(b.persons_0, 0), coalesce(b.persons_1, 0), coalesce(b.persons_2, 0),
       coalesce(b.days_0, 0), coalesce(b.days_1, 0), coalesce(b.days_2, 0),
       coalesce(c.bureau_fen, 0)
FROM budget b FULL JOIN bureau_cost c ON c.institution_id = b.institution_id
"""


def load(db: str, year: int, params: dict) -> tuple[duckdb.DuckDBPyConnection, float]:
    started = time.perf_counter()
    src = sqlite3.connect(db)
    out = Path(tempfile.mkdtemp(prefix="gongti-duck-clearing-"))
    con = duckdb.connect()
    for name, query in TABLES.items():
        args = (f"{year}-01-01", f"{year}-12-31") if "?" in query else ()
        cur = src.execute(query, args)
        path = out / f"{name}.csv"
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow([c[0] for c in cur.description])
            w.writerows(cur)
        dates = ", ".join(f"'{c[0]}': 'DATE'" for c in cur.description if c[0] in DATES)
        con.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_csv_auto('{path}', header=true, types={{{dates}}})"
        )
    con.execute("CREATE TABLE rates (kind INTEGER, rate_fen BIGINT)")
    con.executemany(
        "INSERT INTO rates VALUES (?, ?)",
        [(i, int(params[f"rate_fen.{k}"])) for i, k in enumerate(KINDS)],
    )
    con.execute("CREATE TABLE weights (band INTEGER, condition VARCHAR, weight_micro BIGINT)")
    rows = []
    for name, value in params.items():
        parts = name.split(".")
        if parts[0] == "weight" and len(parts) == 3:
            micro = int(Decimal(str(value)) * 1_000_000)
            rows.append((int(parts[1]), parts[2], micro))
    con.executemany("INSERT INTO weights VALUES (?, ?, ?)", rows)
    return con, time.perf_counter() - started


def main() -> None:
    db, year, params_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    repeat = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    params = json.loads(Path(params_path).read_text())
    con, load_s = load(db, year, params)
    days_in_year = (datetime.date(year + 1, 1, 1) - datetime.date(year, 1, 1)).days
    args = {"jan1": f"{year}-01-01", "dec31": f"{year}-12-31"}
    runs, rows = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        rows = con.execute(SQL, args).fetchall()
        runs.append(time.perf_counter() - started)
    unit = 1_000_000 * days_in_year
    institutions = {}
    for inst, numerator, p0, p1, p2, d0, d1, d2, bureau in rows:
        # rounded half up once (core::decimal::div_half_up)
        q, r = divmod(max(int(numerator), 0), unit)
        budget = q + (2 * r >= unit)
        institutions[str(inst)] = {
            "budget_fen": budget,
            "persons": [p0, p1, p2],
            "person_days": [int(d0), int(d1), int(d2)],
            "bureau_fen": int(bureau),
        }
    print(json.dumps({
        "load_s": load_s,
        "compute_s": statistics.median(runs),
        "runs_s": runs,
        "institutions": institutions,
    }))


if __name__ == "__main__":
    main()
