# For docs/research/joint-bounds.md; needs scipy (pip install scipy), not part of the build.
# Exact MILP feasibility (scipy HiGHS) for (G)+(T) / (G')+(T). Independent of lib.mjs.
import sys, json, itertools, time
import numpy as np
from fractions import Fraction as F
from scipy.optimize import milp, LinearConstraint, Bounds

def fl(a, b): return a // b  # python floor division exact

def check(inst, asg, mode):
    caps, bundles = inst['caps'], inst['bundles']
    W = len(caps); C = sum(caps); K = max(g for _, g in bundles) + 1
    Lg = [sum(x for x, g in bundles if g == k) for k in range(K)]
    Hg = [max([x for x, g in bundles if g == k] or [0]) for k in range(K)]
    L = sum(Lg); S = max(x for x, _ in bundles)
    for w in range(W):
        on = [b for i, b in enumerate(bundles) if asg[i] == w]
        load = sum(x for x, _ in on); sw = max([x for x, _ in on] or [0])
        fair = F(L * caps[w], C)
        if not load > fair - S: return 'T-low w%d' % w
        if load > 0:
            if not load < fair + sw: return 'T-up w%d' % w
            if not load - sw <= -(-L * caps[w] // C) - 1: return 'T-ceil w%d' % w
        for k in range(K):
            lk = sum(x for x, g in on if g == k); sk = max([x for x, g in on if g == k] or [0])
            fk = F(Lg[k] * caps[w], C)
            if not lk > fk - Hg[k]: return 'G-low w%d g%d' % (w, k)
            if mode == 'G':
                if not lk < fk + Hg[k]: return 'G-up w%d g%d' % (w, k)
            else:
                if lk > 0 and not lk < fk + sk: return "G'-up w%d g%d" % (w, k)
    return None

def brute(inst, mode):
    W = len(inst['caps']); n = len(inst['bundles'])
    for asg in itertools.product(range(W), repeat=n):
        if check(inst, asg, mode) is None: return asg
    return None

def solve(inst, mode, tl=60):
    caps, bundles = inst['caps'], inst['bundles']
    W = len(caps); C = sum(caps); n = len(bundles); K = max(g for _, g in bundles) + 1
    Lg = [sum(x for x, g in bundles if g == k) for k in range(K)]
    Hg = [max([x for x, g in bundles if g == k] or [0]) for k in range(K)]
    L = sum(Lg); S = max(x for x, _ in bundles)
    # vars: z[b,w] at b*W+w ; y[b,w] (top of w, for T) at n*W + b*W+w ; u[b,w] (top of class on w, for G') at 2nW + ...
    NV = 3 * n * W
    zi = lambda b, w: b * W + w
    yi = lambda b, w: n * W + b * W + w
    ui = lambda b, w: 2 * n * W + b * W + w
    rows, lo, hi = [], [], []
    def add(coef, l, h):
        r = np.zeros(NV); 
        for i, c in coef: r[i] += c
        rows.append(r); lo.append(l); hi.append(h)
    inf = np.inf
    for b in range(n): add([(zi(b, w), 1) for w in range(W)], 1, 1)
    for w in range(W):
        cw = caps[w]
        # T-low: load*C > L cw - S C  -> load >= floor((L cw - S C)/C)+1
        add([(zi(b, w), bundles[b][0]) for b in range(n)], fl(L * cw - S * C, C) + 1, inf)
        # T-up: load - top <= floor((L cw - 1)/C) ; top chosen among assigned, at most one
        add([(zi(b, w), bundles[b][0]) for b in range(n)] + [(yi(b, w), -bundles[b][0]) for b in range(n)], -inf, fl(L * cw - 1, C))
        add([(yi(b, w), 1) for b in range(n)], 0, 1)
        for b in range(n): add([(yi(b, w), 1), (zi(b, w), -1)], -inf, 0)
        for k in range(K):
            bs = [b for b in range(n) if bundles[b][1] == k]
            add([(zi(b, w), bundles[b][0]) for b in bs], fl(Lg[k] * cw - Hg[k] * C, C) + 1, inf)
            if mode == 'G':
                add([(zi(b, w), bundles[b][0]) for b in bs], -inf, fl(Lg[k] * cw + Hg[k] * C - 1, C))
            else:
                add([(zi(b, w), bundles[b][0]) for b in bs] + [(ui(b, w), -bundles[b][0]) for b in bs], -inf, fl(Lg[k] * cw - 1, C))
                add([(ui(b, w), 1) for b in bs], 0, 1)
                for b in bs: add([(ui(b, w), 1), (zi(b, w), -1)], -inf, 0)
    A = np.array(rows)
    res = milp(c=np.zeros(NV), constraints=LinearConstraint(A, lo, hi), integrality=np.ones(NV), bounds=Bounds(0, 1),
               options={'time_limit': tl, 'disp': False})
    if res.status == 0:
        x = res.x
        asg = [max(range(W), key=lambda w: x[zi(b, w)]) for b in range(n)]
        err = check(inst, asg, mode)
        if err: raise Exception('milp solution fails check: ' + err)
        return True, asg
    if res.status == 2: return False, None  # infeasible
    return None, res.message

if __name__ == '__main__':
    f = sys.argv[1]; TL = float(sys.argv[2]); lim = int(sys.argv[3]) if len(sys.argv) > 3 else 10**9
    t0 = time.time(); cnt = {}
    for line in open(f):
        if time.time() - t0 > TL or sum(cnt.values()) >= lim: break
        inst = json.loads(line)
        a, _ = solve(inst, 'Gp', 60)
        b = a if a is True else solve(inst, 'G', 60)[0]
        key = 'Gp=%s G=%s' % (a, b); cnt[key] = cnt.get(key, 0) + 1
        if a is not True: print(key, line.strip(), flush=True)
    print(cnt, time.time() - t0)
