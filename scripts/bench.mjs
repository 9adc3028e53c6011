#!/usr/bin/env node
// `npm run bench -- NAME [args]` runs bench/NAME.ts (or bench/NAME/index.ts) through tsx.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [name, ...rest] = process.argv.slice(2);
const candidates = name ? [`bench/${name}.ts`, `bench/${name}/index.ts`] : [];
const file = candidates.map((c) => path.join(root, c)).find((f) => fs.existsSync(f));
if (!file) {
  const names = fs
    .readdirSync(path.join(root, 'bench'))
    .filter((f) => f.endsWith('.ts') || fs.statSync(path.join(root, 'bench', f)).isDirectory())
    .map((f) => f.replace(/\.ts$/, ''));
  console.error(`usage: npm run bench -- NAME; benchmarks: ${names.join(', ')}`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...rest], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
