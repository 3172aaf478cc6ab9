/**
 * The workers table, which is also the balance picture: one row per worker with a bar of its tasks
 * stacked by group (length = load against the largest load or the capacity), kept by worker name so a
 * change redraws only the rows it touched. A row opens to list the worker's tasks (at most 500).
 */
import type { FleetView, WorkerView } from '../src/cli/dashboard/fleet.js';
import { groupColor, groupName } from './colors.js';
import { h } from './dom.js';
import type { Page } from './page.js';

interface Row {
  sig: string;
  tr: HTMLTableRowElement;
  ttl: HTMLElement;
  detail?: HTMLTableRowElement;
  detailSig?: string;
}

const rows = new Map<string, Row>();
let table: HTMLTableElement | undefined;
let tbody: HTMLTableSectionElement | undefined;
let empty: HTMLElement | undefined;

function status(w: WorkerView): string {
  const parts: string[] = [];
  if (w.restarting) parts.push(w.online ? 'back from a restart' : 'restarting, tasks held');
  if (w.control?.state) parts.push(w.control.state);
  if (w.health && w.health.counts.failing > 0) parts.push(`${w.health.counts.failing} failing`);
  if (w.health && w.health.counts.backoff > 0) parts.push(`${w.health.counts.backoff} in backoff`);
  return parts.length ? parts.join(', ') : w.assigned === w.claimed ? 'running' : 'starting';
}

function ttlText(w: WorkerView): string {
  return w.ttl === undefined ? '…' : w.ttl < 0 ? 'gone' : `${w.ttl}s`;
}

function bar(w: WorkerView, v: FleetView, scale: number) {
  const segments = v.groups
    .filter((g) => (w.groups[g]?.assigned ?? 0) > 0)
    .map((g) => {
      const c = w.groups[g];
      return h('span', {
        class: 'seg',
        style: `width:${(100 * c.assigned) / scale}%;background:${groupColor(g, v.groups)}`,
        title: `${groupName(g)}: ${c.assigned} assigned, ${c.claimed} running`,
      });
    });
  const label = v.groups
    .filter((g) => (w.groups[g]?.assigned ?? 0) > 0)
    .map((g) => `${groupName(g)} ${w.groups[g].assigned}`)
    .join(' · ');
  return h(
    'div',
    { class: 'load' },
    h('div', { class: 'bar-track', role: 'img', 'aria-label': `${w.name}: ${label || 'no task'}` }, segments),
    h('div', { class: 'bar-label' }, label || 'no task'),
  );
}

function actions(p: Page, w: WorkerView) {
  const cordoned = w.control?.state === 'cordoned' || w.control?.state === 'draining';
  return h(
    'td',
    null,
    cordoned
      ? h(
          'button',
          { type: 'button', onclick: () => void p.post({ action: 'uncordon', worker: w.name }) },
          'Uncordon',
        )
      : h(
          'button',
          { type: 'button', onclick: () => void p.post({ action: 'cordon', worker: w.name }) },
          'Cordon',
        ),
    w.control?.state === 'draining'
      ? null
      : h(
          'button',
          { type: 'button', onclick: () => void p.post({ action: 'drain', worker: w.name }) },
          'Drain',
        ),
  );
}

function buildRow(p: Page, w: WorkerView, v: FleetView, scale: number, control: boolean): Row {
  const open = p.expanded.has(w.name);
  const ttl = h('td', { class: 'num' }, ttlText(w));
  const cap = w.node?.capacity;
  const tr = h(
    'tr',
    { 'data-worker': w.name, class: w.control || w.restarting ? 'flagged' : undefined },
    h(
      'th',
      { scope: 'row' },
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          'aria-expanded': String(open),
          onclick: () => {
            if (p.expanded.has(w.name)) p.expanded.delete(w.name);
            else p.expanded.add(w.name);
            const row = rows.get(w.name);
            if (row) row.sig = ''; // redrawn in place, with its task list open or closed
            renderWorkers(p, p.fleet.view(), control);
          },
        },
        w.name,
      ),
    ),
    h('td', { class: 'status' }, status(w)),
    ttl,
    h('td', { class: 'num' }, `${w.claimed}/${w.assigned}`),
    h('td', { class: 'num' }, cap !== undefined ? `${w.load}/${cap}` : String(w.load)),
    h('td', { class: 'wide' }, bar(w, v, scale)),
    control ? actions(p, w) : null,
  );
  return { sig: '', tr, ttl };
}

function detailRow(p: Page, w: WorkerView, v: FleetView, columns: number): HTMLTableRowElement {
  const { ids, total } = p.fleet.tasksOf(w.name);
  return h(
    'tr',
    { class: 'detail' },
    h(
      'td',
      { colspan: columns },
      h(
        'ul',
        { class: 'chips', 'aria-label': `Tasks of ${w.name}` },
        ids.map((t) =>
          h(
            'li',
            {
              style: `border-color:${groupColor(t.group, v.groups)}`,
              title: `${groupName(t.group)}${t.claimed ? ', running' : ', not running yet'}`,
            },
            t.claimed ? '' : '◌ ',
            t.id,
          ),
        ),
      ),
      total > ids.length
        ? h('p', { class: 'muted' }, `…and ${total - ids.length} more: use the search box to find one.`)
        : null,
    ),
  );
}

export function renderWorkers(p: Page, v: FleetView, control: boolean): void {
  const host = document.getElementById('workers');
  if (!host) return;
  const heads = ['Worker', 'Status', 'Lease', 'Running/assigned', 'Load', 'Tasks by group'];
  if (control) heads.push('Actions');
  if (!table || table.dataset.control !== String(control)) {
    rows.clear();
    tbody = h('tbody');
    table = h(
      'table',
      { class: 'workers', 'data-control': String(control) },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          heads.map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      tbody,
    );
    empty = h('p', { class: 'muted' }, 'No worker online.');
    host.replaceChildren(table, empty);
  }
  empty!.hidden = v.workers.length > 0;
  const scale = Math.max(1, ...v.workers.map((w) => Math.max(w.assigned, w.node?.capacity ?? 0)));
  const seen = new Set<string>();
  let at: ChildNode | null = tbody!.firstChild;
  for (const w of v.workers) {
    seen.add(w.name);
    const { ttl: _ttl, ...rest } = w;
    const sig = JSON.stringify([rest, scale, v.groups, p.expanded.has(w.name)]);
    let row = rows.get(w.name);
    if (!row || row.sig !== sig) {
      const fresh = buildRow(p, w, v, scale, control);
      fresh.sig = sig;
      fresh.detail = row?.detail;
      fresh.detailSig = row?.detailSig;
      if (row) {
        row.tr.replaceWith(fresh.tr);
        if (at === row.tr) at = fresh.tr;
      }
      row = fresh;
      rows.set(w.name, row);
    }
    const t = ttlText(w);
    if (row.ttl.textContent !== t) row.ttl.textContent = t;
    if (row.tr !== at) tbody!.insertBefore(row.tr, at);
    at = row.tr.nextSibling;
    if (p.expanded.has(w.name)) {
      const dsig = sig;
      if (!row.detail || row.detailSig !== dsig) {
        const d = detailRow(p, w, v, heads.length);
        if (row.detail) {
          row.detail.replaceWith(d);
          if (at === row.detail) at = d;
        }
        row.detail = d;
        row.detailSig = dsig;
      }
      if (row.detail !== at) tbody!.insertBefore(row.detail, at);
      at = row.detail.nextSibling;
    } else if (row.detail) {
      if (at === row.detail) at = row.detail.nextSibling;
      row.detail.remove();
      row.detail = undefined;
    }
  }
  for (const [name, row] of rows) {
    if (seen.has(name)) continue;
    row.tr.remove();
    row.detail?.remove();
    rows.delete(name);
  }
}
