// `npm run bench -- scaleout-check [--fixture mistral|qwen2|bert] [--python python3]` (or
// bench/scaleout-check.sh): the parity check of `embedsmith export trainer` (issue #19). On a machine with
// torch + sentence-transformers + peft it trains the same config twice for 2 steps with dropout 0 and
// float32 — our trainer (CPU) and the exported sentence-transformers job (CUDA when present) — and
// compares their step-1 losses (rel. error ≤ 1e-4; step 1 does not depend on LoRA init or dropout
// masks), then embeds with the job's output/adapter through `embedsmith embed --adapter`. Ends with one
// JSON line {"bench":"scaleout-check",...}; without the Python stack it says so ("ran": false).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '../src/main/store';
import { syntheticTask } from '../test/main/training/synthetic';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const FIXTURE = flag('fixture', 'mistral');
const PY = flag('python', 'python3');
const MODEL = path.join(ROOT, 'test/fixtures/parity', FIXTURE);
const BIN = path.join(ROOT, 'bin/embedsmith.mjs');
const TOL = 1e-4;

const report = (o: Record<string, unknown>) =>
  console.log(JSON.stringify({ bench: 'scaleout-check', fixture: FIXTURE, ...o }));

const probe = spawnSync(
  PY,
  [
    '-c',
    'import json,torch,transformers,sentence_transformers as st,peft;print(json.dumps({"torch":torch.__version__,"transformers":transformers.__version__,"sentence_transformers":st.__version__,"peft":peft.__version__,"cuda":torch.cuda.is_available()}))',
  ],
  { encoding: 'utf8' },
);
if (probe.status !== 0) {
  report({
    ran: false,
    reason: `${PY} cannot import torch, transformers, sentence_transformers and peft: ${probe.stderr.trim().split('\n').at(-1)}`,
  });
  process.exit(0);
}
const versions = JSON.parse(probe.stdout.trim().split('\n').at(-1) as string);

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'scaleout-check-'));
const store = Store.open(path.join(home, 'embedsmith.db'));
const d = store.datasets.create('parity');
store.examples.insertMany(d.id, syntheticTask(64, 3));
store.close();

// One config for both: float32, dropout 0, no warm-up, 2 steps (the step-1 loss is the comparison).
const FLAGS = [
  '--model',
  MODEL,
  '--batch-size',
  '16',
  '--chunk-size',
  '4',
  '--max-steps',
  '2',
  '--warmup',
  '0',
  '--lora-dropout',
  '0',
  '--dtype',
  'float32',
  '--temperature',
  '0.02',
  '--lr',
  '0.001',
  '--seed',
  '1',
  '--max-length',
  '64',
];
const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) {
    report({
      ran: true,
      pass: false,
      failed: `${cmd} ${args.slice(0, 3).join(' ')}`,
      stderr: r.stderr.trim().split('\n').slice(-8).join('\n'),
      home,
    });
    process.exit(1);
  }
  return r.stdout;
};
const stepLosses = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { step: number; loss: number });

run(process.execPath, [
  BIN,
  'train',
  '--home',
  home,
  '--dataset',
  'parity',
  '--device',
  'cpu',
  '--out',
  path.join(home, 'run'),
  ...FLAGS,
]);
const ours = stepLosses(path.join(home, 'run', 'train.log.jsonl'));
const job = path.join(home, 'job');
run(process.execPath, [BIN, 'export', 'trainer', 'parity', '--home', home, '--out', job, ...FLAGS]);
const t0 = Date.now();
run(PY, [path.join(job, 'train.py'), '--output-dir', path.join(job, 'output')]);
const pySeconds = (Date.now() - t0) / 1000;
const theirs = stepLosses(path.join(job, 'output', 'train.log.jsonl'));
const a = ours.find((x) => x.step === 1)?.loss ?? Number.NaN;
const b = theirs.find((x) => x.step === 1)?.loss ?? Number.NaN;
const rel = Math.abs(a - b) / Math.abs(a);
// The job's adapter read back by our embed command (what `eval --adapter` reads).
const texts = path.join(home, 'texts.txt');
fs.writeFileSync(texts, 'hello world\nthe cat sat\n');
run(process.execPath, [
  BIN,
  'embed',
  '--home',
  home,
  '--model',
  MODEL,
  '--adapter',
  path.join(job, 'output', 'adapter'),
  '--input',
  texts,
  '--out',
  path.join(home, 'e.npy'),
  '--device',
  'cpu',
]);
report({
  ran: true,
  pass: rel <= TOL,
  step1: { ours: a, theirs: b, rel, tol: TOL },
  step2: {
    ours: ours.find((x) => x.step === 2)?.loss ?? null,
    theirs: theirs.find((x) => x.step === 2)?.loss ?? null,
    note: 'differs by LoRA init (torch vs ours)',
  },
  adapterReadBack: fs.existsSync(path.join(home, 'e.npy')),
  pySeconds,
  versions,
});
fs.rmSync(home, { recursive: true, force: true });
process.exit(rel <= TOL ? 0 : 1);
