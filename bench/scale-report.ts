/**
 * The output of `npm run bench:scale` (bench/scale.ts): the point type, the log–log SVG charts of cost
 * against the number of tasks, and the Markdown table for BENCHMARKS.md. No I/O here.
 */

/** One point of the curve: T tasks, W workers, the figures measured there. */
export interface ScalePoint {
  tasks: number;
  workers: number;
  firstScheduleMs: number;
  firstWriteMs: number;
  firstTxns: number;
  floorMs: number;
  firstVsFloor: number;
  sampleRunningMs: number;
  noChangeMs: number;
  noChangeTaskReads: number;
  noChangeReads: number;
  noChangeTxns: number;
  joinMs: number;
  joinMoves: number;
  leaveMs: number;
  leaveMoves: number;
  masterRssMB: number;
  masterRssAfterGcMB: number;
  masterMaxRssMB: number;
  masterBaselineRssMB: number;
  /** Node flags of the master's process. */
  masterFlags?: string;
  bytesPerTask: number;
  dbMB: number;
  dbInUseMB: number;
  load: number[];
  planner?: Record<string, number>;
}

interface Series {
  name: string;
  color: string;
  dash?: string;
  value: (p: ScalePoint) => number | undefined;
}

const TIME: Series[] = [
  { name: 'first assignment: writes', color: '#1f77b4', value: (p) => p.firstWriteMs },
  { name: 'floor (128-op txns)', color: '#1f77b4', dash: '5 4', value: (p) => p.floorMs },
  { name: 'no-change schedule', color: '#2ca02c', value: (p) => p.noChangeMs },
  { name: 'join schedule', color: '#d62728', value: (p) => p.joinMs },
  { name: 'leave schedule', color: '#ff7f0e', value: (p) => p.leaveMs },
  { name: 'planner: join', color: '#9467bd', value: (p) => p.planner?.joinMs },
  { name: 'planner: dealing pass', color: '#9467bd', dash: '5 4', value: (p) => p.planner?.dealMs },
];

const SIZE: Series[] = [
  { name: 'master RSS (after GC)', color: '#1f77b4', value: (p) => p.masterRssAfterGcMB },
  { name: 'master peak RSS', color: '#1f77b4', dash: '5 4', value: (p) => p.masterMaxRssMB },
  { name: 'etcd DB size', color: '#d62728', value: (p) => p.dbMB },
  { name: 'etcd DB in use', color: '#d62728', dash: '5 4', value: (p) => p.dbInUseMB },
];

/** The two charts: times (ms) and sizes (MB) against tasks, both axes logarithmic. */
export function charts(points: ScalePoint[]): [string, string] {
  return [
    chart(points, TIME, 'Time against tasks (workers = tasks / 100)', 'ms'),
    chart(points, SIZE, 'Memory and etcd size against tasks', 'MB'),
  ];
}

function chart(points: ScalePoint[], series: Series[], title: string, unit: string): string {
  const w = 720;
  const h = 440;
  const m = { left: 70, right: 230, top: 40, bottom: 50 };
  const xs = points.map((p) => p.tasks);
  const ys = series.flatMap((s) => points.map(s.value)).filter((v): v is number => !!v && v > 0);
  const x0 = Math.floor(Math.log10(Math.min(...xs)));
  const x1 = Math.max(x0 + 1, Math.ceil(Math.log10(Math.max(...xs))));
  const y0 = Math.floor(Math.log10(Math.min(...ys)));
  const y1 = Math.max(y0 + 1, Math.ceil(Math.log10(Math.max(...ys))));
  const px = (v: number) => m.left + ((Math.log10(v) - x0) / (x1 - x0)) * (w - m.left - m.right);
  const py = (v: number) => h - m.bottom - ((Math.log10(v) - y0) / (y1 - y0)) * (h - m.top - m.bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<title>${title}</title>`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${m.left}" y="22" font-size="14" font-weight="bold">${title}</text>`,
  ];
  for (let d = x0; d <= x1; d++) {
    const x = px(10 ** d);
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${h - m.bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${x}" y="${h - m.bottom + 18}" text-anchor="middle">${label(10 ** d)}</text>`);
  }
  for (let d = y0; d <= y1; d++) {
    const y = py(10 ** d);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${w - m.right}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${m.left - 6}" y="${y + 4}" text-anchor="end">${label(10 ** d)}</text>`);
  }
  out.push(`<text x="${(m.left + w - m.right) / 2}" y="${h - 12}" text-anchor="middle">tasks</text>`);
  out.push(
    `<text x="16" y="${(m.top + h - m.bottom) / 2}" transform="rotate(-90 16 ${(m.top + h - m.bottom) / 2})" text-anchor="middle">${unit}</text>`,
  );
  series.forEach((s, i) => {
    const pts = points
      .map((p) => [p.tasks, s.value(p)] as const)
      .filter((p): p is readonly [number, number] => !!p[1] && p[1] > 0);
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    if (pts.length > 1) {
      const d = pts
        .map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
        .join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    }
    for (const [x, y] of pts)
      out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = m.top + 10 + i * 20;
    const lx = w - m.right + 14;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    out.push(`<text x="${lx + 30}" y="${ly + 4}">${s.name}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function label(v: number): string {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  return String(v);
}

/** The table of BENCHMARKS.md: one column per point. */
export function markdownTable(points: ScalePoint[]): string {
  const rows: [string, (p: ScalePoint) => string][] = [
    ['first assignment: writes / floor', (p) => `${p.firstWriteMs} / ${p.floorMs} ms = ${p.firstVsFloor}×`],
    ['first schedule (report) / txns', (p) => `${p.firstScheduleMs} ms / ${p.firstTxns}`],
    ['sample workers all running', (p) => `${p.sampleRunningMs} ms after the schedule`],
    ['no-change schedule (median of 3)', (p) => `${p.noChangeMs} ms`],
    [
      '  reads of task/ · all reads · txns',
      (p) => `${p.noChangeTaskReads} · ${p.noChangeReads} · ${p.noChangeTxns}`,
    ],
    ['join schedule (moves)', (p) => `${p.joinMs} ms (${p.joinMoves})`],
    ['leave schedule (moves)', (p) => `${p.leaveMs} ms (${p.leaveMoves})`],
    [
      'master RSS · after GC · peak',
      (p) => `${p.masterRssMB} · ${p.masterRssAfterGcMB} · ${p.masterMaxRssMB} MB`,
    ],
    ['  per task (after GC − baseline)', (p) => `${p.bytesPerTask} B`],
    ['  master node flags', (p) => (p.masterFlags ? `\`${p.masterFlags}\`` : 'defaults')],
    ['planner first · no-change', (p) => `${p.planner?.firstMs} · ${p.planner?.noChangeMs} ms`],
    [
      'planner join · leave (moves)',
      (p) =>
        `${p.planner?.joinMs} · ${p.planner?.leaveMs} ms (${p.planner?.joinMoves} · ${p.planner?.leaveMoves})`,
    ],
    ['planner join vs dealing pass', (p) => `${p.planner?.joinVsDeal}× (deal ${p.planner?.dealMs} ms)`],
    ['etcd DB · in use', (p) => `${p.dbMB} · ${p.dbInUseMB} MB`],
    ['load average (1, 5, 15 min)', (p) => p.load.join(', ')],
  ];
  const head = `| figure | ${points.map((p) => `${label(p.tasks)} × ${label(p.workers)}`).join(' | ')} |`;
  const sep = `| --- | ${points.map(() => '---').join(' | ')} |`;
  return [head, sep, ...rows.map(([name, f]) => `| ${name} | ${points.map(f).join(' | ')} |`)].join('\n');
}
