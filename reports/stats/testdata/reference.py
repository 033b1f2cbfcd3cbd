#!/usr/bin/env python3
"""Reference values for stats_test.go, computed independently of the Go code.

There is no R or scipy on the machine these tests were written on, so the
values are computed here from first principles with exact rational
arithmetic (fractions) and brute-force enumeration, following the
definitions R's wilcox.test, fisher.test and poisson.test document:
  - Mann-Whitney: the exact null distribution of W by enumerating every
    subset of ranks (itertools.combinations), the confidence interval as
    wilcox.test builds it (diffs[qu], diffs[n1*n2-qu+1], qu = qwilcox(alpha/2)),
    the estimate as the median of the sorted pairwise differences; for the
    tied sample the normal approximation with R's tie and continuity
    corrections, with W counted pair by pair.
  - Fisher: hypergeometric probabilities as exact fractions.
  - Poisson: the conditional binomial as exact fractions.
Run: python3 reports/stats/testdata/reference.py
"""
import itertools, math
from fractions import Fraction as F
from statistics import NormalDist

def w_stat(x, y):
    return sum(1 if a > b else F(1, 2) if a == b else 0 for a in x for b in y)

def exact_dist(m, n):
    counts = {}
    for sub in itertools.combinations(range(1, m + n + 1), m):
        w = sum(sub) - m * (m + 1) // 2
        counts[w] = counts.get(w, 0) + 1
    total = math.comb(m + n, m)
    return {w: F(c, total) for w, c in counts.items()}

def exact_case(name, x, y, level=F(95, 100)):
    m, n = len(x), len(y)
    d = exact_dist(m, n)
    w = w_stat(x, y)
    ge = sum(p for k, p in d.items() if k >= w)
    le = sum(p for k, p in d.items() if k <= w)
    two = min(1, 2 * (ge if w > F(m * n, 2) else le))
    alpha = 1 - level
    cum, qu = F(0), 0
    for k in range(m * n + 1):
        cum += d.get(k, 0)
        if cum >= alpha / 2:
            qu = k
            break
    if qu == 0:
        qu = 1
    diffs = sorted(a - b for a in x for b in y)
    N = len(diffs)
    med = diffs[N // 2] if N % 2 else (diffs[N // 2 - 1] + diffs[N // 2]) / 2
    print(f"{name}: W={w} p.greater={float(ge):.10g} p.less={float(le):.10g} p.two={float(two):.10g} "
          f"estimate={float(med):.10g} ci=[{float(diffs[qu - 1]):.10g}, {float(diffs[N - qu]):.10g}] (qu={qu})")

def normal_case(name, x, y):
    m, n = len(x), len(y)
    w = w_stat(x, y)
    pooled = x + y
    ties = {}
    for v in pooled:
        ties[v] = ties.get(v, 0) + 1
    tsum = sum(t ** 3 - t for t in ties.values())
    sigma = math.sqrt(m * n / 12 * ((m + n + 1) - tsum / ((m + n) * (m + n - 1))))
    z = float(w) - m * n / 2
    nd = NormalDist()
    zg = (z - 0.5) / sigma
    zt = (z - math.copysign(0.5, z)) / sigma
    print(f"{name}: W={float(w)} z.greater={zg:.10g} p.greater={1 - nd.cdf(zg):.10g} "
          f"p.two={2 * min(nd.cdf(zt), 1 - nd.cdf(zt)):.10g}")

def fisher(name, a, b, c, d):
    r1, c1, n = a + b, a + c, a + b + c + d
    lo, hi = max(0, c1 - (n - r1)), min(r1, c1)
    p = {k: F(math.comb(r1, k) * math.comb(n - r1, c1 - k), math.comb(n, c1)) for k in range(lo, hi + 1)}
    g = sum(v for k, v in p.items() if k >= a)
    l = sum(v for k, v in p.items() if k <= a)
    t = sum(v for v in p.values() if v <= p[a] * (1 + F(1, 10 ** 7)))
    print(f"{name}: fisher greater={float(g):.10g} less={float(l):.10g} two={float(t):.10g}")

def poisson(name, k1, t1, k2, t2):
    n = k1 + k2
    pr = F(t1, t1 + t2)
    pmf = [math.comb(n, k) * pr ** k * (1 - pr) ** (n - k) for k in range(n + 1)]
    print(f"{name}: poisson greater={float(sum(pmf[k1:])):.10g} less={float(sum(pmf[:k1 + 1])):.10g}")

# R's ?wilcox.test example (Hollander & Wolfe p. 69, depression scale);
# R prints W = 35, p-value = 0.1272 for alternative = "greater".
x = [F(s) for s in "0.80 0.83 1.89 1.04 1.45 1.38 1.91 1.64 0.73 1.46".split()]
y = [F(s) for s in "1.15 0.88 0.90 0.74 1.21".split()]
exact_case("depression", x, y)
exact_case("shifted", [F(v) for v in (12, 15, 19, 22, 30, 31, 40)], [F(v) for v in (3, 5, 8, 9, 11, 14)])
normal_case("tied", [1, 2, 2, 3, 3, 3, 4, 5, 5, 6] * 6, [1, 1, 2, 2, 2, 3, 3, 4, 4, 5] * 6)
# R's ?fisher.test TeaTasting: greater p = 0.2429; two-sided 0.4857.
fisher("tea", 3, 1, 1, 3)
fisher("errors", 12, 988, 2, 998)
fisher("few errors", 6, 494, 0, 500)
poisson("breaks", 9, 60, 2, 60)
