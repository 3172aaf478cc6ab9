// Adversarial search for docs/research/joint-bounds.md; HIT lines are instances the solver gave up on (check them with milp.py).
// Randomized + hill-climbing search for hard / infeasible instances.
// node adv.mjs seed timeLimitSec
import { solve } from './lib.mjs';

const [SEED, TL] = process.argv.slice(2).map(Number);
let seed = SEED >>> 0;
const rnd = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
};
const ri = (a, b) => a + Math.floor(rnd() * (b - a + 1));
const pick = (a) => a[Math.floor(rnd() * a.length)];
const t0 = Date.now();
const BUD = 3e5;
let tested = 0,
  unknown = 0;
const found = [];
const canon = (inst) => {
  // renumber classes compactly
  const m = new Map();
  const bundles = inst.bundles.map(([x, g]) => {
    if (!m.has(g)) m.set(g, m.size);
    return [x, m.get(g)];
  });
  return { caps: inst.caps.slice(), bundles };
};
function hardness(inst) {
  tested++;
  const a = solve(inst, 'Gp', BUD);
  if (a.ok === false || a.ok === null) {
    const b = solve(inst, 'G', BUD);
    if (a.ok === null) unknown++;
    if (a.ok === false || b.ok !== true) {
      found.push({ inst, Gp: a.ok, G: b.ok });
      console.log('HIT', JSON.stringify(inst), 'Gp', a.ok, 'G', b.ok);
    }
    return 1e9;
  }
  return a.nodes;
}
const gens = [
  () => {
    // unequal caps, many classes with one heavy + smalls
    const W = ri(2, 5);
    const caps = Array.from({ length: W }, () => pick([1, 1, 2, 3, 5, 7]));
    const K = ri(2, 5);
    const b = [];
    for (let g = 0; g < K; g++) {
      b.push([ri(4, 12), g]);
      const m = ri(0, 3);
      for (let j = 0; j < m; j++) b.push([ri(1, 4), g]);
    }
    return { caps, bundles: b };
  },
  () => {
    // few bundles per class per worker, heavy comparable to fair share
    const W = ri(2, 4);
    const caps = Array.from({ length: W }, () => ri(1, 8));
    const K = ri(2, 4);
    const b = [];
    for (let g = 0; g < K; g++) {
      const m = ri(W - 1, W + 2);
      for (let j = 0; j < m; j++) b.push([ri(1, 9), g]);
    }
    return { caps, bundles: b };
  },
  () => {
    // extreme caps 1 and 7
    const W = ri(2, 4);
    const caps = Array.from({ length: W }, (_, i) => (i === 0 ? 1 : pick([1, 7, 7, 3])));
    const K = ri(1, 4);
    const b = [];
    const n = ri(4, 14);
    for (let j = 0; j < n; j++) b.push([pick([1, 1, 2, 3, 5, 8, 13]), j < K ? j : ri(0, K - 1)]);
    return { caps, bundles: b };
  },
  () => {
    // generic
    const W = ri(2, 6);
    const caps = Array.from({ length: W }, () => ri(1, 10));
    const K = ri(1, 6);
    const b = [];
    const n = ri(3, 16);
    for (let j = 0; j < n; j++) b.push([ri(1, 20), j < K ? j : ri(0, K - 1)]);
    return { caps, bundles: b };
  },
];
function mutate(inst) {
  const c = { caps: inst.caps.slice(), bundles: inst.bundles.map((b) => b.slice()) };
  const K = Math.max(...c.bundles.map((b) => b[1])) + 1;
  const r = ri(0, 7);
  if (r === 0) c.caps[ri(0, c.caps.length - 1)] = ri(1, 10);
  else if (r === 1 && c.caps.length < 6) c.caps.push(ri(1, 10));
  else if (r === 2 && c.caps.length > 2) c.caps.splice(ri(0, c.caps.length - 1), 1);
  else if (r === 3) {
    const b = pick(c.bundles);
    b[0] = Math.max(1, b[0] + pick([-3, -2, -1, 1, 2, 3]));
  } else if (r === 4) pick(c.bundles)[1] = ri(0, K);
  else if (r === 5 && c.bundles.length < 18) c.bundles.push([ri(1, 20), ri(0, K)]);
  else if (r === 6 && c.bundles.length > 2) c.bundles.splice(ri(0, c.bundles.length - 1), 1);
  else {
    const b = pick(c.bundles);
    b[0] = ri(1, 25);
  }
  return canon(c);
}
let phase = 0;
while ((Date.now() - t0) / 1000 < TL) {
  // random sampling burst
  for (let i = 0; i < 2000; i++) hardness(canon(pick(gens)()));
  // hill climb from a random start
  let cur = canon(pick(gens)()),
    h = hardness(cur);
  for (let s = 0; s < 400 && (Date.now() - t0) / 1000 < TL; s++) {
    const nx = mutate(cur),
      hn = hardness(nx);
    if (hn >= h || rnd() < 0.05) {
      cur = nx;
      h = hn;
    }
  }
  if (++phase % 20 === 0)
    console.log(
      `t=${((Date.now() - t0) / 1000).toFixed(0)} tested=${tested} unknown=${unknown} hits=${found.length} lastH=${h} cur=${JSON.stringify(cur)}`,
    );
}
console.log(JSON.stringify({ SEED, tested, unknown, hits: found.length }));
