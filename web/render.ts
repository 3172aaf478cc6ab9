/**
 * Draws the page from the fleet's aggregated view. Each section is redrawn only when what it shows
 * changed (compared by a signature of its data); the workers table is keyed by worker (workers.ts).
 */
import type { FleetView } from '../src/cli/dashboard/fleet.js';
import type { ScheduleEntry } from '../src/cli/dashboard/protocol.js';
import { groupColor, groupName } from './colors.js';
import { clock, fill, h, ms } from './dom.js';
import type { Page } from './page.js';
import { renderWorkers } from './workers.js';

const signatures = new Map<string, string>();

/** Runs `draw` when `data` differs from the last time section `id` was drawn. */
function section(id: string, data: unknown, draw: () => void): void {
  const sig = JSON.stringify(data);
  if (signatures.get(id) === sig) return;
  signatures.set(id, sig);
  draw();
}

export function render(p: Page): void {
  const v = p.fleet.view();
  const control = p.hello?.control === true;
  const conn = document.getElementById('conn')!;
  const state = !p.connected
    ? ['down', 'disconnected — reconnecting…']
    : !p.store.ok
      ? ['down', `server cannot reach etcd: ${p.store.error ?? ''} — retrying`]
      : !p.ready
        ? ['wait', 'loading…']
        : ['live', 'live'];
  conn.className = `badge ${state[0]}`;
  if (conn.textContent !== state[1]) conn.textContent = state[1];
  document.body.dataset.state = state[0];
  section('root', p.hello, () => {
    fill('root', p.hello ? `${p.hello.root}${p.hello.mode === 'dashboard' ? '' : ` · ${p.hello.mode}`}` : '');
  });
  if (!p.ready) return;
  section('actions', [control, v.paused], () => fill('fleet-actions', control ? fleetActions(p, v) : null));
  section(
    'overview',
    [
      v.leader,
      v.standbyMasters,
      v.standbyWorkers,
      v.barrier,
      v.tasks,
      v.claims,
      v.orphaned,
      v.strayClaims,
      v.workers.length,
      v.lastSchedule,
      v.paused,
    ],
    () => fill('overview', overview(v)),
  );
  section(
    'results',
    [
      p.query,
      p.query ? p.fleet.search(p.query) : null,
      control && p.query ? v.workers.map((w) => w.name) : null,
    ],
    () => fill('results', results(p, v, control)),
  );
  section('groups', [v.groups, v.groupSpread, v.balance, v.workers.length], () => fill('groups', groups(v)));
  renderWorkers(p, v, control);
  section('timeline', p.history, () => fill('timeline', timeline(p.history)));
  section('failing', [v.failing, v.workers.some((w) => w.health)], () => fill('failing', failing(v)));
  section(
    'control',
    [
      v.paused,
      v.pins,
      v.workers.map((w) => [w.name, w.control, w.restarting, w.restarting ? w.ttl : 0, w.online]),
    ],
    () => fill('control', controlState(v)),
  );
}

function fleetActions(p: Page, v: FleetView) {
  return v.paused
    ? h('button', { type: 'button', onclick: () => void p.post({ action: 'resume' }) }, 'Resume scheduling')
    : h('button', { type: 'button', onclick: () => void p.post({ action: 'pause' }) }, 'Pause scheduling');
}

function item(label: string, value: Node | string, id?: string) {
  return h('div', { class: 'item' }, h('dt', null, label), h('dd', { id }, value));
}

function overview(v: FleetView) {
  const b = v.barrier;
  const ls = v.lastSchedule;
  return [
    v.paused
      ? h(
          'p',
          { class: 'banner', role: 'alert' },
          `Scheduling is paused${v.paused.by ? ` by ${v.paused.by}` : ''}${v.paused.reason ? `: ${v.paused.reason}` : ''}`,
        )
      : null,
    h(
      'dl',
      { class: 'overview' },
      item('Leader', v.leader ?? 'none', 'leader'),
      item('Standby masters', v.standbyMasters.join(', ') || 'none'),
      item(
        'Barrier',
        b.passed
          ? `passed at ${clock(b.leftAt ?? '')}`
          : `not passed — ${b.waiting} waiting${b.ready ? ', leaving' : ''}`,
      ),
      item('Workers', String(v.workers.length), 'worker-count'),
      item('Tasks', `${v.tasks} assigned · ${v.claims} claimed`, 'task-count'),
      item('Balance', v.workers.length ? `${v.balance.min}–${v.balance.max} tasks per worker` : '—'),
      v.orphaned || v.strayClaims
        ? item('Unowned', `${v.orphaned} assignments of gone workers · ${v.strayClaims} stray claims`)
        : null,
      v.standbyWorkers.length
        ? item('Standby workers', v.standbyWorkers.map((s) => s.name).join(', '))
        : null,
      item(
        'Last schedule',
        ls
          ? `${clock(ls.time)} · ${ls.reason} · ${ls.result} · moves ${ls.moves} · ${ms(ls.durationMs)}`
          : 'none yet',
      ),
    ),
  ];
}

function results(p: Page, v: FleetView, control: boolean) {
  if (!p.query.trim()) return null;
  const hits = p.fleet.search(p.query);
  if (hits.length === 0) return h('p', { class: 'muted' }, `No task matches “${p.query}”.`);
  return h(
    'table',
    { class: 'results' },
    h('caption', { class: 'sr-only' }, 'Matching tasks'),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ...['Task', 'Group', 'Assigned to', 'Runs on (claim)', 'Since', control ? 'Pin' : null].map((t) =>
          t ? h('th', { scope: 'col' }, t) : null,
        ),
      ),
    ),
    h(
      'tbody',
      null,
      hits.map((hit) =>
        h(
          'tr',
          { 'data-task': hit.id },
          h('td', null, h('code', null, hit.id)),
          h('td', null, swatch(hit.group, v.groups), groupName(hit.group)),
          h('td', null, hit.assigned.join(', ') || 'nobody'),
          h('td', null, hit.claimedBy ?? 'not running'),
          h('td', null, hit.since ? clock(hit.since) : `before ${clock(p.hello?.startedAt)}`),
          control ? h('td', null, pinControl(p, v, hit.id, hit.pin?.worker)) : null,
        ),
      ),
    ),
  );
}

function pinControl(p: Page, v: FleetView, id: string, pinned?: string) {
  if (pinned)
    return h(
      'span',
      null,
      `pinned to ${pinned} `,
      h('button', { type: 'button', onclick: () => void p.post({ action: 'unpin', task: id }) }, 'Unpin'),
    );
  const select = h(
    'select',
    { 'aria-label': `Worker to pin ${id} to` },
    v.workers.map((w) => h('option', { value: w.name }, w.name)),
  );
  return h(
    'span',
    null,
    select,
    h(
      'button',
      { type: 'button', onclick: () => void p.post({ action: 'pin', task: id, worker: select.value }) },
      'Pin',
    ),
  );
}

export function swatch(group: string, groups: readonly string[]) {
  return h('span', {
    class: 'swatch',
    style: `background:${groupColor(group, groups)}`,
    'aria-hidden': 'true',
  });
}

function groups(v: FleetView) {
  if (v.groups.length === 0) return h('p', { class: 'muted' }, 'No task assigned.');
  return h(
    'table',
    null,
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ...['Group', 'Fewest on a worker', 'Most on a worker', 'Spread'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    h(
      'tbody',
      null,
      v.groups.map((g) => {
        const s = v.groupSpread[g];
        return h(
          'tr',
          null,
          h('th', { scope: 'row' }, swatch(g, v.groups), groupName(g)),
          h('td', null, s.min),
          h('td', null, s.max),
          h('td', null, s.max - s.min),
        );
      }),
      h(
        'tr',
        { class: 'total' },
        h('th', { scope: 'row' }, 'all groups'),
        h('td', null, v.balance.min),
        h('td', null, v.balance.max),
        h('td', null, v.balance.spread),
      ),
    ),
  );
}

function timeline(history: ScheduleEntry[]) {
  if (history.length === 0)
    return h('p', { class: 'muted' }, 'No schedule report yet (a Go master writes none).');
  const longest = Math.max(1, ...history.map((e) => e.report.durationMs));
  const heads = [
    'Time',
    'Reason',
    'Result',
    'Workers',
    'Tasks',
    '+ / −',
    'Moves',
    'Duration',
    'Balance after',
  ];
  return h(
    'table',
    { class: 'timeline' },
    h('caption', { class: 'sr-only' }, 'Last schedules, newest first'),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        heads.map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h(
      'tbody',
      null,
      [...history].reverse().map((e) => {
        const r = e.report;
        return h(
          'tr',
          { class: r.result === 'ok' ? undefined : 'bad' },
          h('td', null, h('time', { datetime: r.time }, clock(r.time))),
          h(
            'td',
            null,
            r.reason || '—',
            r.errors.length
              ? h(
                  'div',
                  { class: 'err' },
                  `${r.errors.length} problem(s): ${r.errors.slice(0, 2).join('; ')}`,
                )
              : null,
          ),
          h('td', null, r.result),
          h('td', { class: 'num' }, r.workers),
          h('td', { class: 'num' }, r.tasks),
          h('td', { class: 'num' }, `+${r.assigned} −${r.revoked}`),
          h('td', { class: 'num' }, r.moves),
          h(
            'td',
            { class: 'dur' },
            h('span', { class: 'bar', style: `width:${Math.max(2, (50 * r.durationMs) / longest)}px` }),
            ms(r.durationMs),
          ),
          h('td', { class: 'num' }, `${e.balance.min}–${e.balance.max}`),
        );
      }),
    ),
  );
}

function failing(v: FleetView) {
  if (!v.workers.some((w) => w.health))
    return h('p', { class: 'muted' }, 'Run health is not published by these workers.');
  if (v.failing.length === 0) return h('p', null, 'No failing task.');
  return h(
    'table',
    null,
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ...['Task', 'Worker', 'State', 'Attempts', 'Last error', 'Since'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    h(
      'tbody',
      null,
      v.failing
        .slice(0, 100)
        .map((f) =>
          h(
            'tr',
            null,
            h('td', null, h('code', null, f.id)),
            h('td', null, f.worker),
            h('td', null, f.state),
            h('td', null, f.attempts),
            h('td', { class: 'err' }, f.lastError),
            h('td', null, clock(f.since)),
          ),
        ),
    ),
  );
}

function controlState(v: FleetView) {
  const workers = v.workers.filter((w) => w.control || w.restarting);
  if (!v.paused && v.pins.length === 0 && workers.length === 0)
    return h('p', { class: 'muted' }, 'No cordon, drain, pin or pause.');
  const who = (r: { by?: string; reason?: string; at?: string | number }) =>
    `${r.by ? ` by ${r.by}` : ''}${r.reason ? ` (${r.reason})` : ''}${r.at ? ` at ${clock(r.at)}` : ''}`;
  return h(
    'ul',
    null,
    v.paused ? h('li', null, `scheduling paused${who(v.paused)}`) : null,
    workers.map((w) =>
      h(
        'li',
        { 'data-control': w.name },
        w.control ? `${w.name}: ${w.control.state ?? '?'}${who(w.control)}` : null,
        w.restarting
          ? `${w.name}: restarting${who(w.restarting)}${w.restarting.graceMs ? `, grace ${ms(w.restarting.graceMs)}` : ''}${w.online ? ' (back)' : w.ttl !== undefined && w.ttl >= 0 ? `, ${w.ttl}s left` : ''}`
          : null,
      ),
    ),
    v.pins.map((pin) => h('li', null, `${pin.id} pinned to ${pin.record.worker ?? '?'}${who(pin.record)}`)),
  );
}
