/**
 * One colour per group, stable across reloads (a hash of the name picks from a palette chosen for
 * contrast on white), always shown beside the group's name so colour is never the only cue.
 */
const PALETTE = [
  '#1f77b4',
  '#d95f02',
  '#1b9e77',
  '#7570b3',
  '#e7298a',
  '#66a61e',
  '#a6761d',
  '#666666',
  '#e6ab02',
  '#17becf',
];

export function groupColor(group: string, groups: readonly string[]): string {
  const i = groups.indexOf(group);
  if (i >= 0 && groups.length <= PALETTE.length) return PALETTE[i];
  let x = 2166136261;
  for (let j = 0; j < group.length; j++) x = Math.imul(x ^ group.charCodeAt(j), 16777619);
  return PALETTE[(x >>> 0) % PALETTE.length];
}

export function groupName(group: string): string {
  return group === '' ? '(default)' : group;
}
