// Joint feasibility of the weighted planner's bounds (docs/research/joint-bounds.md): exact checker + solver.
// Exact checker + DFS solver for joint (G)+(T) / (G')+(T) feasibility.
// Instance: { caps: [c_w], bundles: [[x, g], ...] }  classes g = 0..K-1
// mode: 'G' => (G)+(T) ; 'Gp' => (G')+(T) ; 'Gonly','Tonly','Gponly' for sanity.

const fdiv = (a, b) => Math.floor(a / b); // all values small ints; b>0; exact for |a|<2^53

export function stats(inst) {
  const { caps, bundles } = inst;
  const W = caps.length;
  const C = caps.reduce((a, b) => a + b, 0);
  let K = 0;
  for (const [, g] of bundles) K = Math.max(K, g + 1);
  const Lg = new Array(K).fill(0),
    Hg = new Array(K).fill(0);
  let L = 0,
    S = 0;
  for (const [x, g] of bundles) {
    Lg[g] += x;
    Hg[g] = Math.max(Hg[g], x);
    L += x;
    S = Math.max(S, x);
  }
  return { W, C, K, Lg, Hg, L, S };
}

// Independent straightforward checker; returns null if ok, else string reason.
export function check(inst, assign, mode = 'G') {
  const { caps, bundles } = inst;
  const { W, C, K, Lg, Hg, L, S } = stats(inst);
  const useG = mode === 'G' || mode === 'Gp' || mode === 'Gonly' || mode === 'Gponly';
  const useT = mode === 'G' || mode === 'Gp' || mode === 'Tonly';
  const prime = mode === 'Gp' || mode === 'Gponly';
  for (let w = 0; w < W; w++) {
    const cw = caps[w];
    let load = 0,
      sw = 0;
    const lg = new Array(K).fill(0),
      swg = new Array(K).fill(0);
    bundles.forEach(([x, g], i) => {
      if (assign[i] === w) {
        load += x;
        lg[g] += x;
        sw = Math.max(sw, x);
        swg[g] = Math.max(swg[g], x);
      }
    });
    if (useG)
      for (let g = 0; g < K; g++) {
        // scaled by C
        if (!(Lg[g] * cw - Hg[g] * C < lg[g] * C)) return `G-low w${w} g${g}`;
        if (!prime) {
          if (!(lg[g] * C < Lg[g] * cw + Hg[g] * C)) return `G-up w${w} g${g}`;
        } else if (lg[g] > 0 && !(lg[g] * C < Lg[g] * cw + swg[g] * C)) return `G'-up w${w} g${g}`;
      }
    if (useT) {
      if (!(load * C > L * cw - S * C)) return `T-low w${w}`;
      if (load > 0) {
        if (!(load * C < L * cw + sw * C)) return `T-up w${w}`;
        const ceilFair = Math.ceil((L * cw) / C); // L*cw, C small ints: exact via integer check below
        const cf = (L * cw) % C === 0 ? (L * cw) / C : fdiv(L * cw, C) + 1;
        if (cf !== ceilFair) throw new Error('ceil');
        if (!(load - sw <= cf - 1)) return `T-ceil w${w}`;
      }
    }
  }
  return null;
}

// DFS solver. Returns {ok:true, assign} | {ok:false} | {ok:null} (node budget exceeded)
export function solve(inst, mode = 'G', budget = 5e7, useMemo = false) {
  const { caps, bundles } = inst;
  const { W, C, K, Lg, Hg, L, S } = stats(inst);
  const useG = mode === 'G' || mode === 'Gp' || mode === 'Gonly' || mode === 'Gponly';
  const useT = mode === 'G' || mode === 'Gp' || mode === 'Tonly';
  const prime = mode === 'Gp' || mode === 'Gponly';
  const n = bundles.length;
  const order = bundles
    .map((_b, i) => i)
    .sort((a, b) => bundles[b][0] - bundles[a][0] || bundles[a][1] - bundles[b][1]);
  const xs = order.map((i) => bundles[i][0]),
    gs = order.map((i) => bundles[i][1]);
  // identical to previous bundle in order?
  const same = xs.map((x, k) => k > 0 && x === xs[k - 1] && gs[k] === gs[k - 1]);
  // bounds (integers)
  const minG = [],
    maxG = [],
    maxGex = [],
    minT = [],
    maxTex = [];
  for (let w = 0; w < W; w++) {
    const cw = caps[w];
    minG.push([]);
    maxG.push([]);
    maxGex.push([]);
    for (let g = 0; g < K; g++) {
      minG[w].push(useG ? Math.max(0, fdiv(Lg[g] * cw - Hg[g] * C, C) + 1) : 0);
      maxG[w].push(useG && !prime ? fdiv(Lg[g] * cw + Hg[g] * C - 1, C) : Infinity);
      maxGex[w].push(useG && prime ? fdiv(Lg[g] * cw - 1, C) : Infinity); // load_g - s_wg <= this
    }
    minT.push(useT ? Math.max(0, fdiv(L * cw - S * C, C) + 1) : 0);
    maxTex.push(useT ? fdiv(L * cw - 1, C) : Infinity); // load - s_w <= this (covers ceil cond too)
  }
  const load = new Array(W).fill(0),
    sw = new Array(W).fill(0);
  const lg = Array.from({ length: W }, () => new Array(K).fill(0));
  const swg = Array.from({ length: W }, () => new Array(K).fill(0));
  const remG = Lg.slice();
  let rem = L;
  let defG = new Array(K).fill(0),
    defT = 0;
  for (let g = 0; g < K; g++) for (let w = 0; w < W; w++) defG[g] += minG[w][g];
  for (let w = 0; w < W; w++) defT += minT[w];
  for (let g = 0; g < K; g++) if (defG[g] > remG[g]) return { ok: false, nodes: 0 };
  if (defT > rem) return { ok: false, nodes: 0 };
  const asg = new Array(n).fill(-1);
  const memo = useMemo ? new Set() : null;
  // upper slack: can the remaining weight still fit under the upper bounds?
  function slackOK(k) {
    if (k === n) return true;
    const xn = xs[k];
    let tot = 0;
    if (useT) {
      for (let w = 0; w < W; w++) tot += Math.max(0, maxTex[w] + (sw[w] || xn) - load[w]);
      if (tot < rem) return false;
    }
    if (useG)
      for (let g = 0; g < K; g++) {
        if (remG[g] === 0) continue;
        let hx = 0;
        for (let j = k; j < n; j++)
          if (gs[j] === g) {
            hx = xs[j];
            break;
          }
        let sl = 0;
        for (let w = 0; w < W; w++)
          sl += prime
            ? Math.max(0, maxGex[w][g] + (swg[w][g] || hx) - lg[w][g])
            : Math.max(0, maxG[w][g] - lg[w][g]);
        if (sl < remG[g]) return false;
      }
    return true;
  }
  let nodes = 0;
  let aborted = false;
  function rec(k) {
    if (k === n) return true;
    if (++nodes > budget) {
      aborted = true;
      return false;
    }
    const x = xs[k],
      g = gs[k];
    const lo = same[k] ? asg[k - 1] : 0;
    // candidate workers, ordered by deficit relative to fair_g (most underloaded first)
    const cand = [];
    for (let w = lo; w < W; w++) {
      // symmetry: skip empty worker if an earlier empty worker with same cap exists (and >= lo)
      if (load[w] === 0) {
        let dup = false;
        for (let v = lo; v < w; v++)
          if (load[v] === 0 && caps[v] === caps[w]) {
            dup = true;
            break;
          }
        if (dup) continue;
      }
      const nl = lg[w][g] + x;
      if (nl > maxG[w][g]) continue;
      const s2 = swg[w][g] || x;
      if (nl - s2 > maxGex[w][g]) continue;
      const s1 = sw[w] || x;
      if (load[w] + x - s1 > maxTex[w]) continue;
      cand.push(w);
    }
    cand.sort((a, b) => lg[a][g] * C - Lg[g] * caps[a] - (lg[b][g] * C - Lg[g] * caps[b]));
    for (const w of cand) {
      const dg = Math.min(x, Math.max(0, minG[w][g] - lg[w][g]));
      const dt = Math.min(x, Math.max(0, minT[w] - load[w]));
      const osw = sw[w],
        oswg = swg[w][g];
      lg[w][g] += x;
      load[w] += x;
      if (!osw) sw[w] = x;
      if (!oswg) swg[w][g] = x;
      remG[g] -= x;
      rem -= x;
      defG[g] -= dg;
      defT -= dt;
      asg[k] = w;
      if (defG[g] <= remG[g] && defT <= rem && slackOK(k + 1)) {
        let key = null;
        if (memo) {
          key = `${k}|${lg.map((r, i) => `${r.join(',')};${swg[i].join(',')}`).join('/')}`;
        }
        if (!memo?.has(key)) {
          if (rec(k + 1)) return true;
          if (aborted) return false;
          if (memo && memo.size < 2e6) memo.add(key);
        }
      }
      lg[w][g] -= x;
      load[w] -= x;
      sw[w] = osw;
      swg[w][g] = oswg;
      remG[g] += x;
      rem += x;
      defG[g] += dg;
      defT += dt;
      asg[k] = -1;
    }
    return false;
  }
  const found = rec(0);
  if (aborted) return { ok: null, nodes };
  if (!found) return { ok: false, nodes };
  const assign = new Array(n);
  order.forEach((i, k) => {
    assign[i] = asg[k];
  });
  const err = check(inst, assign, mode);
  if (err) throw new Error(`solver produced invalid placement: ${err} ${JSON.stringify(inst)}`);
  return { ok: true, assign, nodes };
}

// Plain brute force (no pruning, no symmetry) for cross-checking.
export function brute(inst, mode = 'G') {
  const n = inst.bundles.length,
    W = inst.caps.length;
  const a = new Array(n).fill(0);
  for (;;) {
    if (!check(inst, a, mode)) return { ok: true, assign: a.slice() };
    let i = 0;
    while (i < n && ++a[i] === W) {
      a[i] = 0;
      i++;
    }
    if (i === n) return { ok: false };
  }
}
