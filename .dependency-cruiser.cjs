/**
 * The dependency rule, checked on every run of CI (`npm run check`). Herald's folders form layers;
 * a folder may import its own layer and those below it, never one above. The list below is the
 * order, lowest first; docs/architecture.md draws it. Tests, test support and benchmarks are not
 * held to it (they reach in to set things up).
 */
const layers = [
  ['domain'], // pure decisions: no I/O, no other layer
  ['config', 'paths'],
  ['relay'],
  ['queue'],
  ['store'],
  ['providers'],
  ['sandbox-link'],
  ['channels'], // one folder per channel and the registry: above providers and store, below worker and api
  ['worker'],
  ['observability'],
  ['scheduler'],
  ['api'],
  ['sandbox'], // the simulators: imported only by the process that runs them
  ['server'],
  ['cli'],
];

const folder = (name) => `^src/${name}(/|\\.ts$)`;
const notTests = '\\.test\\.ts$';

const upward = layers.flatMap((names, i) => {
  const above = layers.slice(i + 1).flat();
  if (!above.length) return [];
  return [{
    name: `layer-${names.join('-')}`,
    comment: `${names.join(', ')} may not import a layer above it (${above.join(', ')})`,
    severity: 'error',
    from: { path: names.map(folder), pathNot: notTests },
    to: { path: above.map(folder) },
  }];
});

module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment:
        'src/domain/ imports only itself, node:crypto and liquidjs (which renders strings; Herald gives it no file system: domain/personalization/template.ts): no I/O, no other layer, no other package',
      severity: 'error',
      from: { path: '^src/domain/', pathNot: notTests },
      to: { pathNot: ['^src/domain/', '^(node:)?crypto$', '(^|/)node_modules/liquidjs/'] },
    },
    {
      name: 'providers-never-reach-the-sandbox',
      comment: 'a provider client must work the same against the real service: nothing of the sandbox, even indirectly',
      severity: 'error',
      from: { path: '^src/providers/', pathNot: notTests },
      to: { path: ['^src/sandbox/', '^src/sandbox-link\\.ts$'], reachable: true },
    },
    {
      name: 'channels-never-reach-the-sandbox',
      comment: 'a channel names its simulator as plain data (a key of the sandbox link): the API and the worker load channels, never the simulators',
      severity: 'error',
      from: { path: '^src/channels/', pathNot: notTests },
      to: { path: '^src/sandbox/', reachable: true },
    },
    {
      name: 'api-never-reaches-the-sandbox',
      comment: 'the API serves real deployments: it never imports the simulators, even indirectly',
      severity: 'error',
      from: { path: '^src/api/', pathNot: notTests },
      to: { path: '^src/sandbox/', reachable: true },
    },
    {
      name: 'no-circular',
      comment: 'no import cycle between modules',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-test-code',
      comment: 'shipped code never imports tests or test support',
      severity: 'error',
      from: { path: '^src/', pathNot: notTests },
      to: { path: ['\\.test\\.ts$', '^test/'] },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
