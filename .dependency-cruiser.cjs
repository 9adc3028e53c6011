// The layering of docs/ARCHITECTURE.md as rules that fail `npm test` (issue #16). Data flows one way: a
// module may import from its own folder and from lower layers only. Folders on one layer never import each
// other, so no cycle between folders can exist; `no-circular` catches cycles between files.
/** Lowest first. Each entry: a name and the path pattern of its files. */
const LAYERS = [
  [['shared', '^src/shared/']],
  [['base', '^src/main/(errors|paths|ts-worker)\\.ts$']],
  [
    ['store', '^src/main/store/'],
    ['engine', '^src/main/engine/'],
  ],
  [['jobs', '^src/main/jobs/']],
  [
    ['import', '^src/main/import/'],
    ['models', '^src/main/models/'],
    ['generation', '^src/main/generation/'],
  ],
  [
    ['export', '^src/main/export/'],
    ['eval', '^src/main/eval/'],
    ['training', '^src/main/training/'],
  ],
  [['mining', '^src/main/mining/']],
  [['workbench', '^src/main/workbench\\.ts$']],
  // The demo is a pipeline over the workbench's services; the app's "Load the demo" (api) runs it.
  [['demo', '^src/main/demo/']],
  [['api', '^src/main/api/']],
  [['serve', '^src/main/serve/']],
  [
    ['cli', '^src/main/cli/'],
    ['electron-main', '^src/main/index\\.ts$'],
  ],
];

const layerRules = [];
LAYERS.forEach((layer, rank) => {
  for (const [name, from] of layer) {
    const above = LAYERS.slice(rank + 1).flat();
    const beside = layer.filter(([other]) => other !== name);
    for (const [other, to] of [...above, ...beside]) {
      layerRules.push({
        name: `layer:${name}->${other}`,
        comment: `${name} sits ${beside.some(([b]) => b === other) ? 'beside' : 'below'} ${other} (docs/ARCHITECTURE.md): move the shared piece down or invert the dependency`,
        severity: 'error',
        from: { path: from },
        to: { path: to },
      });
    }
  }
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-circular',
      // Between folders the layer rules forbid any cycle, type imports included. Within a folder, a cycle made
      // only of `import type` (a service and the helper file it delegates to, typed by the service) has no
      // load order and is allowed; any cycle with a value import is not.
      comment: 'a cycle between files: split out what both need',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'renderer-only-shared',
      comment: 'the renderer talks to the main process through the contract only (src/shared)',
      severity: 'error',
      from: { path: '^src/(renderer|preload)/' },
      to: { path: '^src/main/' },
    },
    {
      name: 'ort-only-in-engine',
      comment: 'onnxruntime-node is the engine’s: call src/main/engine instead',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/main/engine/' },
      to: { path: '(^|/)node_modules/onnxruntime-(node|common)/' },
    },
    {
      name: 'electron-only-at-the-edge',
      comment: 'Electron is imported only by src/main/index.ts and src/preload; services run in plain Node',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(main/index\\.ts$|preload/)' },
      to: { path: '(^|/)node_modules/electron/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a type import is a dependency of the design just as much.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.node.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.mjs', '.js', '.json'] },
  },
};
