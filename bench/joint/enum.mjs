// Exhaustive search for docs/research/joint-bounds.md.
// Exhaustive enumeration: node enum.mjs W Wmax(weights) N(max bundles) Kmax capMax timeLimitSec
import { solve } from './lib.mjs';

const [W, WM, N, KM, CM, TL] = process.argv.slice(2).map(Number);
const t0 = Date.now();
const gcd = (a, b) => (b ? gcd(b, a % b) : a);
// cap multisets (nondecreasing), gcd 1
const capsList = [];
(function rc(pre, lo) {
  if (pre.length === W) {
    if (pre.reduce(gcd) === 1 || W === 1) capsList.push(pre.slice());
    return;
  }
  for (let c = lo; c <= CM; c++) {
    pre.push(c);
    rc(pre, c);
    pre.pop();
  }
})([], 1);
// weight multisets (nonincreasing arrays) size 1..N
const ms = [];
(function rm(pre, hi) {
  if (pre.length) ms.push(pre.slice());
  if (pre.length === N) return;
  for (let x = hi; x >= 1; x--) {
    pre.push(x);
    rm(pre, x);
    pre.pop();
  }
})([], WM);
let count = 0,
  infG = 0,
  infGp = 0,
  unk = 0;
const examplesG = [],
  examplesGp = [];
let timedOut = false;
function handle(classes) {
  let g0 = 0;
  for (const c of classes) for (const x of c) g0 = gcd(g0, x);
  if (g0 !== 1) return;
  const bundles = [];
  classes.forEach((c, g) => {
    for (const x of c) bundles.push([x, g]);
  });
  for (const caps of capsList) {
    count++;
    const inst = { caps, bundles };
    const rp = solve(inst, 'Gp', 2e6);
    if (rp.ok === true) continue;
    if (rp.ok === null) unk++;
    else {
      infGp++;
      if (examplesGp.length < 50) examplesGp.push(inst);
    }
    const rg = solve(inst, 'G', 2e6);
    if (rg.ok === null) unk++;
    else if (rg.ok === false) {
      infG++;
      if (examplesG.length < 50) examplesG.push(inst);
    }
  }
}
for (let K = Number(process.env.KMIN || 1); K <= KM; K++) {
  // nondecreasing index tuples into ms with total size <= N
  const idx = [];
  const rec = (k, lo, tot) => {
    if (timedOut) return;
    if (k === K) {
      handle(idx.map((i) => ms[i]));
      if ((Date.now() - t0) / 1000 > TL) timedOut = true;
      return;
    }
    for (let i = lo; i < ms.length; i++) {
      if (tot + ms[i].length > N) continue;
      idx.push(i);
      rec(k + 1, i, tot + ms[i].length);
      idx.pop();
    }
  };
  rec(0, 0, 0);
  console.log(
    `W=${W} K=${K} done=${!timedOut} instances so far=${count} infGp=${infGp} infG=${infG} unk=${unk} t=${(Date.now() - t0) / 1000}s`,
  );
  if (timedOut) break;
}
console.log(JSON.stringify({ W, WM, N, KM, CM, count, infGp, infG, unk, timedOut, caps: capsList.length }));
for (const e of examplesGp.slice(0, 10)) console.log('Gp-infeasible', JSON.stringify(e));
for (const e of examplesG.slice(0, 10)) console.log('G-infeasible', JSON.stringify(e));
