"""An independent reckoning of DOMAIN.md §6's payment arithmetic with Python's decimal
module, for the test that compares Gongti's what-if endpoints against it
(tests/it/payment_simulate.rs). Reads {"capitation": [request, …], "incentives":
[request, …]} as JSON on stdin — numbers kept exactly as written — and prints the
answers each request should get, in the endpoints' shapes.

Written from DOMAIN.md §6, not from Gongti's code: sums first, each money figure
rounded half up once; prepayments the whole-year amount spread over twelve months,
the last taking the remainder; the band with the highest minimum the score reaches;
the pool shared by largest remainder, ties to the person listed first."""
import json
import sys
from decimal import ROUND_HALF_UP, Decimal, getcontext

getcontext().prec = 80


def fen(x):
    return int(Decimal(x).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def capitation(c):
    rate, days_in_year = Decimal(c["rate_fen"]), Decimal(c["days_in_year"])
    budget = fen(sum((rate * m["weight"] * m["days"] * m.get("count", 1) for m in c["members"]), Decimal(0))
                 / days_in_year)
    prepaid = fen(Decimal(c["prepay_share"]) * budget)
    month = prepaid // 12
    monthly = [month] * 11 + [prepaid - 11 * month]
    bands = c["quality_bands"]
    reached = [b for b in bands if c["quality_score"] >= b["min_score"]]
    if not bands:
        m = Decimal(1)
    elif reached:
        m = max(reached, key=lambda b: b["min_score"])["multiplier"]
    else:
        return None
    adjusted = fen(budget * Decimal(m))
    surplus = adjusted - c["actual_cost_fen"]
    rate_s = None
    if adjusted > 0:
        q = (Decimal(abs(surplus)) / adjusted).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
        rate_s = str(-q if surplus < 0 else q)
    if surplus >= 0:
        cap = c["surplus_cap_share"]
        retained = surplus if cap is None else min(surplus, fen(Decimal(cap) * adjusted))
        covers = bears = 0
    else:
        retained = 0
        covers = fen(Decimal(c["overspend_share"]) * -surplus)
        bears = -surplus - covers
    return {
        "budget_fen": budget, "prepaid_fen": prepaid, "monthly_prepayments_fen": monthly,
        "multiplier": str(m), "adjusted_budget_fen": adjusted, "surplus_fen": surplus,
        "surplus_rate": rate_s, "retained_fen": retained, "fund_covers_fen": covers,
        "community_bears_fen": bears,
    }


def incentives(c):
    pool = c["pool_fen"]
    weights = [Decimal(p["units"]) * p["post"] * p["quality"] for p in c["people"]]
    total = sum(weights, Decimal(0))
    if total == 0:
        return {"payouts": [{"id": p["id"], "pay_fen": 0} for p in c["people"]]}
    exact = [pool * w / total for w in weights]
    pay = [int(e) for e in exact]  # non-negative: int() rounds down
    left = pool - sum(pay)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - pay[i]), i))
    for i in order[:left]:
        pay[i] += 1
    return {"payouts": [{"id": p["id"], "pay_fen": n} for p, n in zip(c["people"], pay)]}


cases = json.load(sys.stdin, parse_float=Decimal)
print(json.dumps({
    "capitation": [capitation(c) for c in cases["capitation"]],
    "incentives": [incentives(c) for c in cases["incentives"]],
}))
