// The house rules of issue #16 are part of `npm test`: the layering (dependency-cruiser with
// .dependency-cruiser.cjs) and the size budget (biome.jsonc). These tests prove the rules bite: each plants a
// violation in a scratch tree laid out like ours and expects the real tool, with our real config, to refuse it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tmpDir } from '../helpers/tmp';

const DEPCRUISE = path.join(REPO_ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const BIOME = path.join(REPO_ROOT, 'node_modules/@biomejs/biome/bin/biome');

/** A scratch project with our configs and the given files (path → source). */
function plant(files: Record<string, string>): string {
  const dir = tmpDir('house-rules-');
  fs.copyFileSync(path.join(REPO_ROOT, '.dependency-cruiser.cjs'), path.join(dir, '.dependency-cruiser.cjs'));
  const biome = fs
    .readFileSync(path.join(REPO_ROOT, 'biome.jsonc'), 'utf8')
    .replace(/"\$schema":\s*"[^"]*",?/, '');
  fs.writeFileSync(path.join(dir, 'biome.jsonc'), biome);
  fs.writeFileSync(
    path.join(dir, 'tsconfig.node.json'),
    JSON.stringify({ compilerOptions: { moduleResolution: 'bundler', module: 'esnext', strict: true } }),
  );
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

function depcruise(cwd: string) {
  const r = spawnSync(
    process.execPath,
    [DEPCRUISE, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
    { cwd, encoding: 'utf8' },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function biomeLint(cwd: string) {
  const r = spawnSync(BIOME, ['lint', '--max-diagnostics=50', 'src'], { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('layering rules (dependency-cruiser)', () => {
  it('pass on the tree as it is', () => {
    const r = depcruise(REPO_ROOT);
    expect(r.out).not.toMatch(/error /);
    expect(r.status).toBe(0);
  });

  it('refuse an upward import (engine → api)', () => {
    const dir = plant({
      'src/main/api/router.ts': 'export const route = 1;\n',
      'src/main/engine/graph.ts': "import { route } from '../api/router';\nexport const g = route;\n",
    });
    const r = depcruise(dir);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('layer:engine->api');
  });

  it('refuse imports between folders of one layer and cycles between files', () => {
    const dir = plant({
      'src/main/training/a.ts': "import { b } from '../mining/b';\nexport const a = () => b;\n",
      'src/main/mining/b.ts': "import { a } from '../training/a';\nexport const b = () => a;\n",
      'src/main/store/x.ts': "import { y } from './y';\nexport const x = () => y;\n",
      'src/main/store/y.ts': "import { x } from './x';\nexport const y = () => x;\n",
    });
    const r = depcruise(dir);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('layer:training->mining');
    expect(r.out).toMatch(/no-circular: src\/main\/store\/[xy]\.ts/);
  });

  it('refuse onnxruntime-node outside the engine', () => {
    const dir = plant({
      'src/main/training/loss.ts': "import * as ort from 'onnxruntime-node';\nexport const t = ort.Tensor;\n",
    });
    fs.mkdirSync(path.join(dir, 'node_modules/onnxruntime-node'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'node_modules/onnxruntime-node/package.json'),
      JSON.stringify({ name: 'onnxruntime-node', main: 'index.js' }),
    );
    fs.writeFileSync(path.join(dir, 'node_modules/onnxruntime-node/index.js'), 'exports.Tensor = 1;\n');
    const r = depcruise(dir);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('ort-only-in-engine');
  });
});

describe('size budget (biome.jsonc)', () => {
  const fn = (name: string, lines: number) =>
    `export function ${name}(x: number): number {\n${Array.from({ length: lines }, (_, i) => `  x += ${i};\n`).join('')}  return x;\n}\n`;

  it('refuses a 700-line file', () => {
    const body = Array.from({ length: 14 }, (_, i) => fn(`f${i}`, 48)).join('\n');
    expect(body.split('\n').length).toBeGreaterThan(700);
    const r = biomeLint(plant({ 'src/main/store/big.ts': body }));
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('noExcessiveLinesPerFile');
  });

  it('refuses a 150-line function and accepts a 100-line one', () => {
    const long = biomeLint(plant({ 'src/main/store/long.ts': fn('long', 150) }));
    expect(long.status).not.toBe(0);
    expect(long.out).toContain('noExcessiveLinesPerFunction');
    const ok = biomeLint(plant({ 'src/main/store/ok.ts': fn('ok', 100) }));
    expect(ok.out).not.toContain('noExcessiveLines');
    expect(ok.status).toBe(0);
  });
});
