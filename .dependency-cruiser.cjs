/**
 * The dependency rules of the code map (README.md, "Code map"), checked in `npm test` by
 * test/architecture.test.ts (which also checks the folder graph against the map's table).
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'cli-public-api-only',
      comment: 'src/cli is a user of the library: it imports the public API (src/index.ts), its own modules and the demo.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: ['^src/index\\.ts$', '^src/cli/', '^src/demo/'] },
    },
    {
      name: 'worker-off-main-thread',
      comment:
        'src/worker runs in worker threads: it imports the wire format and thread-neutral helpers, nothing that runs on the main thread.',
      severity: 'error',
      from: { path: '^src/worker/' },
      to: {
        path: '^src/',
        pathNot: [
          '^src/worker/',
          '^src/wire/',
          '^src/errors\\.ts$',
          '^src/transfer\\.ts$',
          '^src/clone-path\\.ts$',
          '^src/typescript\\.ts$',
        ],
      },
    },
    {
      name: 'limits-on-errors-only',
      comment: 'The limit algorithms are pure: they import nothing but the error classes.',
      severity: 'error',
      from: { path: '^src/limits/' },
      to: { path: '^src/', pathNot: ['^src/limits/', '^src/errors\\.ts$'] },
    },
    {
      name: 'journal-on-errors-only',
      comment: 'The journal is a library part of its own: it imports nothing of sluice but the error classes.',
      severity: 'error',
      from: { path: '^src/journal/' },
      to: { path: '^src/', pathNot: ['^src/journal/', '^src/errors\\.ts$'] },
    },
    {
      name: 'src-not-on-tooling',
      comment: 'Shipped code never imports the bench or the tests.',
      severity: 'error',
      from: { path: '^(src|workers)/' },
      to: { path: '^(bench|test)/' },
    },
    {
      name: 'bench-as-a-user',
      comment: "The bench imports sluice as a user does ('sluice', 'sluice/demo': the built package), never its sources.",
      severity: 'error',
      from: { path: '^bench/' },
      to: { path: '^(src|workers)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'types', 'default', 'node'],
      extensions: ['.ts', '.js', '.mjs', '.cjs'],
    },
  },
};
