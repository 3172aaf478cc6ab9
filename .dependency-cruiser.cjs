/**
 * The layers of src/, checked by `npm run lint` (dependency-cruiser): imports point down only and no
 * cycle exists, not even a type-only one. Bottom to top:
 *   errors.ts, task.ts (leaves) → util/ → store/ → recipes/ → scheduler/ → cli/
 * and planner/, which depends on nothing but task.ts and errors.ts. The package's entry points sit on
 * top (src/index.ts, recipes.ts, testing.ts, prometheus.ts: the `exports` map of package.json); nothing
 * imports them. prom-client is loaded by its adapter (scheduler/prometheus.ts) and the CLI only. The
 * dashboard page (web/) is bundled for the browser with the pure modules it shares with the server.
 */
const entries = '^src/(index|recipes|testing|prometheus)\\.ts$';
const layer = (from, forbidden, comment) => ({
  name: `${from.replace(/[^a-z]/g, '')}-layer`,
  comment,
  severity: 'error',
  from: { path: `^src/${from}` },
  to: { path: `^src/(${forbidden.join('|')})` },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle means a type or function lives in the wrong file: move it to the file that owns it.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    layer(
      '(errors|task)\\.ts',
      ['util/', 'store/', 'recipes/', 'planner/', 'scheduler/', 'cli/', 'index'],
      'errors and task are leaves',
    ),
    layer(
      'util/',
      ['store/', 'recipes/', 'planner/', 'scheduler/', 'cli/', 'index'],
      'util is the bottom layer',
    ),
    layer(
      'store/',
      ['recipes/', 'planner/', 'scheduler/', 'cli/', 'index'],
      'the store port knows no protocol',
    ),
    layer(
      'recipes/',
      ['planner/', 'scheduler/', 'cli/', 'index'],
      'recipes know the store port, not the roles',
    ),
    layer(
      'planner/',
      ['util/', 'store/', 'recipes/', 'scheduler/', 'cli/', 'index'],
      'the planner is a pure function',
    ),
    layer('scheduler/', ['cli/', 'index'], 'the roles know nothing of the CLI'),
    {
      name: 'etcd3-only-in-its-adapter',
      comment: 'Only the etcd adapter speaks etcd3; everything else goes through the store port.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/store/etcd' },
      to: { path: 'node_modules/etcd3/' },
    },
    {
      name: 'entries-on-top',
      comment:
        'Entry points re-export; the library never imports them (the CLI imports the files they name).',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: entries },
    },
    {
      name: 'prom-client-only-in-its-adapter',
      comment:
        'Metrics are a port: only the prom-client adapter (and the CLI, which serves it) import prom-client.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(scheduler/prometheus\\.ts|prometheus\\.ts|cli/)' },
      to: { path: 'node_modules/prom-client/' },
    },
    {
      name: 'no-prom-client-behind-other-entries',
      comment: 'Importing escheduler, escheduler/recipes or escheduler/testing must not load prom-client.',
      severity: 'error',
      from: { path: '^src/(index|recipes|testing)\\.ts$' },
      to: { path: 'node_modules/prom-client/', reachable: true },
    },
    {
      name: 'web-tools-stay-out-of-src',
      comment: 'esbuild (builds the dashboard page) and playwright-core (drives it in tests) are dev tools.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: 'node_modules/(esbuild|playwright-core)/' },
    },
    {
      name: 'page-modules-are-pure',
      comment:
        'The dashboard modules bundled into the page (fleet, records, tally, protocol, and the restart marker codec they share with the scheduler) import only each other: no Node API, no library code.',
      severity: 'error',
      from: { path: '^src/(cli/dashboard/(fleet|records|tally|protocol)|scheduler/restart)\\.ts$' },
      to: { pathNot: '^src/(cli/dashboard/(fleet|records|tally|protocol)|scheduler/restart)\\.ts$' },
    },
    {
      name: 'page-imports-page-modules',
      comment:
        'The page (web/) is bundled for the browser: its own files and the pure dashboard modules only.',
      severity: 'error',
      from: { path: '^web/' },
      to: { pathNot: '^(web/|src/(cli/dashboard/(fleet|records|tally|protocol)|scheduler/restart)\\.ts$)' },
    },
    {
      name: 'cli-deps-stay-in-cli',
      comment: 'The library runtime does not import what only the CLI needs.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: 'node_modules/(commander|pino)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
