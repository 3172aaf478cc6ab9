/**
 * The soak's figures (issue 18): samples written by test/fixtures/soak-sampler.mjs (one JSON line per
 * process every few seconds), grouped per process, with the growth of heap used after GC as a
 * least-squares slope per hour over the part of the process's life after a warm-up, and an SVG plot of
 * memory over time. Pure functions of the samples, so the verdict can be tested on made-up series.
 */

export interface Sample {
  t: number;
  name: string;
  pid: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  elP50: number;
  elP99: number;
  elMax: number;
  resources: number;
  listeners: number;
  targets: number;
  emitters: number;
  maxListenerWarnings: number;
}

export interface ProcessFigures {
  name: string;
  samples: number;
  /** Minutes from the first to the last sample. */
  minutes: number;
  /** Heap used after GC, MiB: first and last sample after the warm-up, and the maximum. */
  heapFirstMiB: number;
  heapLastMiB: number;
  heapMaxMiB: number;
  /** Least-squares slope of heap used after GC over the samples after the warm-up, MiB per hour. */
  heapSlopeMiBPerHour: number;
  rssFirstMiB: number;
  rssLastMiB: number;
  rssSlopeMiBPerHour: number;
  listenersFirst: number;
  listenersLast: number;
  listenersMax: number;
  listenersSlopePerHour: number;
  resourcesMax: number;
  eventLoopP99MaxMs: number;
  eventLoopMaxMs: number;
  maxListenerWarnings: number;
}

const MiB = 1024 * 1024;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Parses the samples file (JSON lines; a torn last line is ignored). */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Sample);
    } catch {
      // a line cut by a SIGKILL in the middle of its write
    }
  }
  return out;
}

/** Least-squares slope of y over x (per unit of x); 0 with fewer than 2 points. */
export function slope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export function byProcess(samples: readonly Sample[]): Map<string, Sample[]> {
  const m = new Map<string, Sample[]>();
  for (const s of samples) {
    const list = m.get(s.name) ?? [];
    list.push(s);
    m.set(s.name, list);
  }
  for (const list of m.values()) list.sort((a, b) => a.t - b.t);
  return m;
}

/** Figures of one process; samples in the first `warmupMs` of its life are left out of the slopes. */
export function figures(name: string, all: readonly Sample[], warmupMs: number): ProcessFigures {
  const t0 = all[0]?.t ?? 0;
  const after = all.filter((s) => s.t >= t0 + warmupMs);
  const use = after.length >= 2 ? after : all;
  const hour = 3_600_000;
  const per = (f: (s: Sample) => number, scale: number) =>
    slope(use.map((s) => [(s.t - t0) / hour, f(s) / scale] as [number, number]));
  return {
    name,
    samples: all.length,
    minutes: round(((all.at(-1)?.t ?? t0) - t0) / 60_000, 1),
    heapFirstMiB: round((use[0]?.heapUsed ?? 0) / MiB),
    heapLastMiB: round((use.at(-1)?.heapUsed ?? 0) / MiB),
    heapMaxMiB: round(Math.max(...all.map((s) => s.heapUsed)) / MiB),
    heapSlopeMiBPerHour: round(per((s) => s.heapUsed, MiB)),
    rssFirstMiB: round((use[0]?.rss ?? 0) / MiB),
    rssLastMiB: round((use.at(-1)?.rss ?? 0) / MiB),
    rssSlopeMiBPerHour: round(per((s) => s.rss, MiB)),
    listenersFirst: use[0]?.listeners ?? 0,
    listenersLast: use.at(-1)?.listeners ?? 0,
    listenersMax: Math.max(...all.map((s) => s.listeners)),
    listenersSlopePerHour: round(
      per((s) => s.listeners, 1),
      1,
    ),
    resourcesMax: Math.max(...all.map((s) => s.resources)),
    eventLoopP99MaxMs: Math.max(...all.map((s) => s.elP99)),
    eventLoopMaxMs: Math.max(...all.map((s) => s.elMax)),
    maxListenerWarnings: Math.max(...all.map((s) => s.maxListenerWarnings)),
  };
}

/** An SVG line chart of heap used after GC and RSS (MiB) over minutes, one colour per process. */
export function memorySvg(series: Map<string, Sample[]>, title: string): string {
  const W = 860;
  const H = 420;
  const L = 60;
  const R = 150;
  const T = 40;
  const B = 50;
  const all = [...series.values()].flat();
  if (all.length === 0) return '<svg xmlns="http://www.w3.org/2000/svg"/>';
  const t0 = Math.min(...all.map((s) => s.t));
  const tMax = Math.max(...all.map((s) => s.t)) - t0 || 1;
  const yMax = Math.ceil(Math.max(...all.map((s) => s.rss)) / MiB / 20) * 20;
  const x = (t: number) => L + ((t - t0) / tMax) * (W - L - R);
  const y = (bytes: number) => T + (1 - bytes / MiB / yMax) * (H - T - B);
  const colours = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${title}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="22" font-size="14">${title}</text>`,
  ];
  for (let v = 0; v <= yMax; v += yMax / 5) {
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(v * MiB)}" y2="${y(v * MiB)}" stroke="#ddd"/>`,
      `<text x="${L - 8}" y="${y(v * MiB) + 4}" text-anchor="end">${round(v, 0)}</text>`,
    );
  }
  const minutes = tMax / 60_000;
  const step = minutes > 30 ? 10 : minutes > 8 ? 2 : 1;
  for (let m = 0; m <= minutes; m += step) {
    const px = x(t0 + m * 60_000);
    out.push(`<text x="${px}" y="${H - B + 18}" text-anchor="middle">${m}</text>`);
  }
  out.push(
    `<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">minutes</text>`,
    `<text x="16" y="${(T + H - B) / 2}" transform="rotate(-90 16 ${(T + H - B) / 2})" text-anchor="middle">MiB</text>`,
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="black"/>`,
  );
  let i = 0;
  for (const [name, list] of series) {
    const c = colours[i % colours.length];
    const pts = (f: (s: Sample) => number) =>
      list.map((s) => `${round(x(s.t), 1)},${round(y(f(s)), 1)}`).join(' ');
    out.push(
      `<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${pts((s) => s.heapUsed)}"/>`,
      `<polyline fill="none" stroke="${c}" stroke-width="1" stroke-dasharray="4 3" points="${pts((s) => s.rss)}"/>`,
      `<line x1="${W - R + 12}" x2="${W - R + 32}" y1="${T + 10 + i * 18}" y2="${T + 10 + i * 18}" stroke="${c}" stroke-width="2"/>`,
      `<text x="${W - R + 38}" y="${T + 14 + i * 18}">${name}</text>`,
    );
    i++;
  }
  out.push(
    `<text x="${W - R + 12}" y="${T + 24 + i * 18}">solid: heap after GC</text>`,
    `<text x="${W - R + 12}" y="${T + 40 + i * 18}">dashed: RSS</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}

/** Growth allowed for V8's warm-up in runs shorter than this (it compiles more code for ~10 minutes). */
export const SHORT_RUN_MINUTES = 30;
export const WARMUP_ALLOWANCE_MIB = 3;

export interface Verdict {
  warmupMs: number;
  boundMiBPerHour: number;
  judged: (ProcessFigures & { allowedMiBPerHour: number })[];
  others: ProcessFigures[];
  overBound: string[];
  maxListenerWarnings: string[];
}

/**
 * Judges the long-lived processes (`stable`, or when not given every process sampled for at least 80 % of
 * the longest life): the slope of heap used after GC, after a warm-up of min(10 min, a quarter of the run),
 * must stay within `bound` MiB/h — plus, in runs shorter than 30 minutes, {@link WARMUP_ALLOWANCE_MIB} of
 * growth over the judged window (V8 still compiles code there; a one-hour run sees it flatten). No process
 * may have seen a MaxListenersExceededWarning.
 */
export function judge(
  samples: readonly Sample[],
  minutes: number,
  bound: number,
  stable?: ReadonlySet<string>,
): Verdict {
  const warmupMs = Math.min(10 * 60_000, (minutes * 60_000) / 4);
  const per = byProcess(samples);
  const life = (l: Sample[]) => (l.at(-1)?.t ?? 0) - (l[0]?.t ?? 0);
  const longest = Math.max(0, ...[...per.values()].map(life));
  const isStable = (name: string, l: Sample[]) => (stable ? stable.has(name) : life(l) >= 0.8 * longest);
  const judged = [...per]
    .filter(([n, l]) => isStable(n, l))
    .map(([n, l]) => {
      const fig = figures(n, l, warmupMs);
      const judgedHours = Math.max(1e-6, (life(l) - warmupMs) / 3_600_000);
      const allowance = minutes < SHORT_RUN_MINUTES ? WARMUP_ALLOWANCE_MIB / judgedHours : 0;
      return { ...fig, allowedMiBPerHour: round(bound + allowance, 1) };
    });
  const others = [...per].filter(([n, l]) => !isStable(n, l)).map(([n, l]) => figures(n, l, warmupMs));
  return {
    warmupMs,
    boundMiBPerHour: bound,
    judged,
    others,
    overBound: judged.filter((x) => x.heapSlopeMiBPerHour > x.allowedMiBPerHour).map((x) => x.name),
    maxListenerWarnings: [...judged, ...others].filter((x) => x.maxListenerWarnings > 0).map((x) => x.name),
  };
}
