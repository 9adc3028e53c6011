import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TRAIN_FIELDS, TRAIN_KEYS, type TrainKey } from '../../../src/shared/training';
import { main } from '../../../src/main/cli/index';
import { Store } from '../../../src/main/store';
import { parseTrainConfig, queryFormatter, type TrainConfig } from '../../../src/main/training/config';
import { loadTrainRows, planEpoch, stepsPerEpoch, type TrainRow } from '../../../src/main/training/data';
import { exportTrainerJob, TRAINER_FILES } from '../../../src/main/training/scaleout';
import { totalStepsOf, writeRunJson } from '../../../src/main/training/trainer';
import { captureOutput } from '../../helpers/capture';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { BERT, examples, setup } from '../mining/helpers';
import { syntheticTask } from './synthetic';

const MODEL = path.join(FIXTURES, 'parity/mistral');

function makeHome(): string {
  const home = tmpDir();
  const store = Store.open(path.join(home, 'embedsmith.db'));
  const ds = store.datasets.create('syn');
  const rows = syntheticTask(100, 7);
  // Two rows share a positive text, and one row's hard negative is another row's positive: the masking
  // cases the exported loss must reproduce travel through the rows unchanged.
  rows[1] = { ...rows[1], positive: rows[0].positive };
  rows[2] = { ...rows[2], negative: rows[3].positive };
  store.examples.insertMany(ds.id, rows);
  store.close();
  return home;
}

const io = captureOutput();

const readJsonl = (f: string) =>
  fs
    .readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

/** The README's `| label | `--flag` | `value` | … |` rows, parsed back: flag → value. */
function readmeSettings(readme: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const m of readme.matchAll(/^\| [^|]+ \| `--([a-z-]+)` \| `(.*?)` \| .* \|$/gm))
    out.set(m[1], JSON.parse(m[2]));
  return out;
}

/** The README's derived table: name → value. */
function readmeDerived(readme: string): Map<string, unknown> {
  const section = readme.slice(readme.indexOf('## Derived for this job'));
  const out = new Map<string, unknown>();
  for (const m of section.matchAll(/^\| ([A-Za-z]+) \| `(.*?)` \| .* \|$/gm)) out.set(m[1], JSON.parse(m[2]));
  return out;
}

/** accelerate.yaml is flat `key: value` lines. */
function flatYaml(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split('\n')) {
    const m = /^([a-z_]+): (.*)$/.exec(l);
    if (m) out[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
  }
  return out;
}

const negativesOf = (r: TrainRow) => [
  ...(r.negative !== null ? [r.negative] : []),
  ...(r.extraNegatives ?? []),
];

const FLAGS = [
  '--batch-size',
  '16',
  '--chunk-size',
  '4',
  '--epochs',
  '2',
  '--temperature',
  '0.05',
  '--lora-rank',
  '4',
  '--lora-alpha',
  '8',
  '--lora-dropout',
  '0.05',
  '--lr',
  '0.0003',
  '--warmup',
  '3',
  '--weight-decay',
  '0.01',
  '--seed',
  '11',
  '--max-length',
  '48',
  '--checkpoint-every',
  '5',
  '--group-by',
  'kind',
];

describe('embedsmith export trainer: a sentence-transformers + PEFT job of our recipe', () => {
  it('writes every file; rows, batch order and every value are the trainer’s', async () => {
    const home = makeHome();
    const out = path.join(home, 'job');
    const code = await main([
      'export',
      'trainer',
      'syn',
      '--home',
      home,
      '--model',
      MODEL,
      '--out',
      out,
      '--gpus',
      '2',
      '--nodes',
      '2',
      ...FLAGS,
      '--json',
    ]);
    expect(code, io.stderr).toBe(0);
    const res = JSON.parse(io.stdout);
    expect(res.out).toBe(out);
    for (const f of TRAINER_FILES) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    expect(fs.readdirSync(out).sort()).toEqual([...TRAINER_FILES].sort());

    // The config the trainer would have parsed from the same flags (its own parser), independent of the export.
    const want: TrainConfig = parseTrainConfig({
      datasets: ['syn'],
      model: MODEL,
      out: path.join(home, 'unused'),
      batchSize: 16,
      chunkSize: 4,
      epochs: 2,
      temperature: 0.05,
      loraRank: 4,
      loraAlpha: 8,
      loraDropout: 0.05,
      lr: 0.0003,
      warmup: 3,
      weightDecay: 0.01,
      seed: 11,
      maxLength: 48,
      checkpointEvery: 5,
      groupBy: 'kind',
    });
    const recipe = JSON.parse(fs.readFileSync(path.join(out, 'recipe.json'), 'utf8'));
    for (const k of TRAIN_KEYS.filter((k) => k !== 'out' && k !== 'model'))
      expect(recipe.config[k], k).toEqual(want[k]);
    expect(recipe.config.model).toBe(path.resolve(MODEL));

    // Rows: the trainer's own row builder, in its order.
    const store = Store.open(path.join(home, 'embedsmith.db'));
    const rows = loadTrainRows(store, ['syn'], queryFormatter(MODEL), {});
    store.close();
    const lines = readJsonl(path.join(out, 'train.jsonl'));
    expect(lines.length).toBe(rows.length);
    rows.forEach((r, i) => {
      expect(lines[i].id).toBe(r.id);
      expect(lines[i].anchor).toBe(r.query);
      expect(lines[i].anchor.startsWith(`Instruct: ${r.instruction}\nQuery: `)).toBe(true);
      expect(lines[i].positive).toBe(r.positive);
      expect(lines[i].negatives).toEqual(negativesOf(r));
    });
    expect(lines[1].positive).toBe(lines[0].positive);

    // Batches: the trainer loop's draw (planEpoch per epoch), every step.
    const per = stepsPerEpoch(rows, 16, 'kind');
    const total = totalStepsOf(want, rows);
    const batches = readJsonl(path.join(out, 'batches.jsonl'));
    expect(batches.length).toBe(total);
    expect(total).toBe(per * 2);
    for (let s = 0; s < total; s++) {
      const epoch = Math.floor(s / per);
      expect(batches[s]).toEqual({
        step: s + 1,
        epoch,
        rows: planEpoch(rows, 16, 11, epoch, 'kind').batches[s % per],
      });
    }

    // README: every schema field with the config's value; the derived values from the same numbers.
    const readme = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    const settings = readmeSettings(readme);
    for (const k of TRAIN_KEYS) {
      const flag = TRAIN_FIELDS[k].meta.flag;
      expect(settings.has(flag), flag).toBe(true);
      if (k !== 'out' && k !== 'model') expect(settings.get(flag), flag).toEqual(want[k as TrainKey]);
    }
    const derived = readmeDerived(readme);
    expect(derived.get('scale')).toBeCloseTo(1 / want.temperature, 12);
    expect(recipe.job.scale).toBeCloseTo(1 / want.temperature, 12);
    expect(derived.get('miniBatchSize')).toBe(want.chunkSize);
    expect(derived.get('globalBatch')).toBe(want.batchSize);
    expect(derived.get('perDeviceBatch')).toBe(want.batchSize / 4);
    expect(derived.get('worldSize')).toBe(4);
    expect(derived.get('totalSteps')).toBe(total);
    for (const [k, v] of derived) expect(recipe.job[k], k).toEqual(v);
    // all-linear resolves to the linears PEFT itself wrapped in the fixture (its adapter_config.json).
    const peft = JSON.parse(fs.readFileSync(path.join(MODEL, 'adapter/adapter_config.json'), 'utf8'));
    expect([...recipe.job.targetModules].sort()).toEqual([...peft.target_modules].sort());
    expect(recipe.job.pooling).toBe('lasttoken');
    expect(recipe.job.torchDtype).toBe('bfloat16'); // --dtype auto on CUDA, as our trainer resolves it
    expect(recipe.tokenizer).toMatchObject({ appendEos: true, maxLength: 48, positions: 'cumsum' });

    // Launch files: the process counts parsed back.
    const launch = fs.readFileSync(path.join(out, 'launch.sh'), 'utf8');
    expect(/--nproc_per_node=(\d+)/.exec(launch)?.[1]).toBe('2');
    const sbatch = fs.readFileSync(path.join(out, 'job.sbatch'), 'utf8');
    expect(/#SBATCH --nodes=(\d+)/.exec(sbatch)?.[1]).toBe('2');
    expect(/#SBATCH --gpus-per-node=(\d+)/.exec(sbatch)?.[1]).toBe('2');
    expect(/--nproc_per_node=(\d+)/.exec(sbatch)?.[1]).toBe('2');
    const acc = flatYaml(fs.readFileSync(path.join(out, 'accelerate.yaml'), 'utf8'));
    expect(acc).toMatchObject({
      num_processes: '4',
      num_machines: '2',
      mixed_precision: 'bf16',
      distributed_type: 'MULTI_GPU',
    });

    // train.py names only values recipe.json has (it reads every hyper-parameter from there).
    const py = fs.readFileSync(path.join(out, 'train.py'), 'utf8');
    const used = (obj: string) =>
      [...py.matchAll(new RegExp(`${obj}\\["([A-Za-z]+)"\\]`, 'g'))].map((m) => m[1]);
    for (const k of used('CONFIG')) expect(recipe.config, k).toHaveProperty(k);
    for (const k of used('JOB')) expect(recipe.job, k).toHaveProperty(k);
    for (const k of used('TOK')) expect(recipe.tokenizer, k).toHaveProperty(k);
    const helper = fs.readFileSync(path.join(out, 'embedsmith_recipe.py'), 'utf8');
    const tokKeys = [...helper.matchAll(/tok\["([A-Za-z]+)"\]/g)].map((m) => m[1]);
    expect(tokKeys.length).toBeGreaterThan(5);
    for (const k of tokKeys) expect(recipe.tokenizer, k).toHaveProperty(k);
    expect(used('CONFIG').length + used('JOB').length + used('TOK').length).toBeGreaterThan(20);
    for (const f of ['launch.sh', 'job.sbatch'])
      expect(spawnSync('bash', ['-n', path.join(out, f)]).status, f).toBe(0);
  });

  const python = spawnSync('python3', ['--version']).status === 0;
  it.skipIf(!python)('train.py and embedsmith_recipe.py compile (python3 -m py_compile)', async () => {
    const home = makeHome();
    const out = path.join(home, 'job');
    expect(
      await main(['export', 'trainer', 'syn', '--home', home, '--model', MODEL, '--out', out, ...FLAGS]),
    ).toBe(0);
    for (const f of ['train.py', 'embedsmith_recipe.py']) {
      const r = spawnSync('python3', ['-m', 'py_compile', path.join(out, f)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
  });

  it('from a run folder or id: the run’s config, flags on top', async () => {
    const home = makeHome();
    const runDir = path.join(home, 'runs', 'run-x');
    const cfg = parseTrainConfig({
      datasets: ['syn'],
      model: MODEL,
      out: runDir,
      batchSize: 8,
      chunkSize: 2,
      lr: 0.002,
      temperature: 0.03,
      negatives: 'llm',
    });
    writeRunJson(runDir, cfg, { rows: 100, totalSteps: 12 });
    const a = path.join(home, 'a');
    expect(await main(['export', 'trainer', runDir, '--home', home, '--out', a]), io.stderr).toBe(0);
    const ra = JSON.parse(fs.readFileSync(path.join(a, 'recipe.json'), 'utf8'));
    expect(ra.config.lr).toBe(0.002);
    expect(ra.config.batchSize).toBe(8);
    expect(ra.job.scale).toBeCloseTo(1 / 0.03, 12);
    expect(ra.source.run).toBe(runDir);
    // a run id under <home>/runs, with one flag changed
    const b = path.join(home, 'b');
    expect(
      await main(['export', 'trainer', 'run-x', '--home', home, '--out', b, '--lr', '0.01']),
      io.stderr,
    ).toBe(0);
    const rb = JSON.parse(fs.readFileSync(path.join(b, 'recipe.json'), 'utf8'));
    expect(rb.config.lr).toBe(0.01);
    expect(rb.config.temperature).toBe(0.03);
  });

  it('mined negatives and dropped false negatives: the rows the trainer builds for the same flags', async () => {
    const rows = examples(24, 31).map((e, i) => ({
      ...e,
      status: 'accepted' as const,
      split: 'train' as const,
      negative: i % 3 === 0 ? `${e.positive} ${i}` : e.negative,
    }));
    const { home, store, svc } = setup(rows);
    await svc.mine({ dataset: 'ds', model: BERT, knobs: { numNegatives: 2 }, inThread: true });
    const probe = await svc.score({ dataset: 'ds', model: BERT, margin: 0, inThread: true });
    await svc.score({
      dataset: 'ds',
      model: BERT,
      margin: probe.scores.margin.median as number,
      inThread: true,
    });
    try {
      for (const [negatives, drop] of [
        ['both', 'negative'],
        ['mined', 'row'],
      ] as const) {
        const config = parseTrainConfig({
          datasets: ['ds'],
          model: BERT,
          out: path.join(home, 'x'),
          batchSize: 4,
          chunkSize: 2,
          negatives,
          dropFalseNegatives: drop,
        });
        const out = path.join(home, `job-${negatives}`);
        const res = exportTrainerJob(store, { config, out });
        const want = loadTrainRows(store, ['ds'], queryFormatter(BERT), {
          negatives,
          dropFalseNegatives: drop,
        });
        const lines = readJsonl(path.join(out, 'train.jsonl'));
        expect(res.rows).toBe(want.length);
        expect(lines.map((l) => [l.id, l.anchor, l.positive, l.negatives])).toEqual(
          want.map((r) => [r.id, r.query, r.positive, negativesOf(r)]),
        );
        const recipe = JSON.parse(fs.readFileSync(path.join(out, 'recipe.json'), 'utf8'));
        expect(recipe.job.maxNegatives).toBe(Math.max(...want.map((r) => negativesOf(r).length)));
        expect(recipe.job.maxNegatives).toBeGreaterThan(1);
        expect(recipe.job.pooling).toBe('mean'); // the BERT fixture's Pooling module
        expect(recipe.tokenizer.appendEos).toBe(false);
      }
      // --drop-false-negatives row dropped some rows (the score run flagged some negatives).
      const all = loadTrainRows(store, ['ds'], queryFormatter(BERT), { negatives: 'mined' });
      expect(readJsonl(path.join(home, 'job-mined', 'train.jsonl')).length).toBeLessThan(all.length);
    } finally {
      store.close();
    }
  });

  const bad: [string, string[], RegExp][] = [
    [
      'batch not divisible by the processes',
      ['--batch-size', '16', '--gpus', '3'],
      /--batch-size 16 .*3 processes/,
    ],
    ['unknown source', [], /neither a training run/],
    ['dataset without --model', ['--no-model'], /--model <dir>/],
    ['unknown framework', ['--framework', 'flagembedding'], /--framework flagembedding/],
    ['zero GPUs', ['--gpus', '0'], /--gpus 0/],
    ['out not empty', ['--out-not-empty'], /exists and is not an empty folder/],
  ];
  for (const [name, args, msg] of bad)
    it(`refuses in one line: ${name}`, async () => {
      const home = makeHome();
      const out = path.join(home, 'job');
      if (args.includes('--out-not-empty')) {
        fs.mkdirSync(out);
        fs.writeFileSync(path.join(out, 'x'), '');
      }
      const source = name === 'unknown source' ? 'nope' : 'syn';
      const extra = args.filter((a) => !a.startsWith('--no-') && a !== '--out-not-empty');
      const model = args.includes('--no-model') ? [] : ['--model', MODEL];
      const code = await main([
        'export',
        'trainer',
        source,
        '--home',
        home,
        ...model,
        '--out',
        out,
        ...extra,
      ]);
      expect(code).toBe(2);
      const errors = io.stderr.split('\n').filter(Boolean);
      expect(errors.length, io.stderr).toBe(1);
      expect(errors[0]).toMatch(msg);
      if (!args.includes('--out-not-empty')) expect(fs.existsSync(out)).toBe(false);
    });
});
