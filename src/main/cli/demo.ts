import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { DEMO_TRAIN, type DemoResult, runDemo } from '../demo';
import { usageError } from '../errors';
import { formatDuration } from '../jobs/progress';
import { type GlobalOpts, runWithWorkbench, table, withGlobals } from './context';

interface DemoOpts extends GlobalOpts {
  baseUrl?: string;
  models?: string;
  count: string;
  apiKeyEnv?: string;
  steps: string;
  eval: string[];
  evalLimit?: string;
  device: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];
const pct = (x: number) => (x * 100).toFixed(2);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}`;

/** The human report of a demo run: distribution, comparison, honesty note, where every file went. */
export function formatDemo(r: DemoResult, totalS: number): string {
  const d = r.distribution;
  const langs = d.languages;
  const mono = d.rows.filter((x) => x.kind !== 'bitext');
  const dist = table(
    ['kind', ...langs, 'total'],
    [
      ...mono.map((x) => [x.kind, ...langs.map((l) => x.counts[l] ?? 0), x.total]),
      [
        'all',
        ...langs.map((l) => mono.reduce((s, x) => s + (x.counts[l] ?? 0), 0)),
        mono.reduce((s, x) => s + x.total, 0),
      ],
    ],
  );
  const bitext = d.rows.find((x) => x.kind === 'bitext');
  const cmp = table(
    ['task', 'type', 'base', 'adapter', 'Δ'],
    [
      ...r.evaluation.tasks.map((t) => [t.task, t.type, pct(t.base), pct(t.adapter), signed(t.delta)]),
      [
        'average (held-out demo split)',
        '',
        pct(r.evaluation.averageBase),
        pct(r.evaluation.averageAdapter),
        signed(r.evaluation.averageDelta),
      ],
    ],
  );
  const f = r.files;
  const lines = [
    '',
    `Demo dataset: ${r.dataset.imported} rows imported${r.dataset.alreadyPresent ? ` (${r.dataset.alreadyPresent} already in this workspace)` : ''}${r.dataset.generated ? `, ${r.dataset.generated} generated live` : ''}; accepted rows by split: ${Object.entries(
      r.dataset.bySplit,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    '',
    'Accepted rows, kind × language:',
    dist,
    bitext ? `bitext: ${bitext.total} rows over ${d.bitextPairs} language pairs` : '',
    '',
    `Training: ${r.training.steps} LoRA steps, loss ${r.training.firstLoss?.toFixed(3) ?? '?'} → ${r.training.lastLoss?.toFixed(3) ?? '?'} in ${formatDuration(r.training.seconds)}`,
    '',
    'Base vs adapter (main score ×100; MTEB metrics: nDCG@10, Spearman, F1, accuracy):',
    cmp,
    ...r.evaluation.skipped.map((s) => `(not scored: ${s.task}: ${s.reason})`),
    '',
    `Read this honestly: the base model (${(r.model.parameters / 1e6).toFixed(1)}M parameters, llama family) starts from random`,
    'weights generated from a fixed seed, arranged so that it averages token vectors (a bag-of-tokens baseline);',
    'it was never pre-trained. The adapter is trained on the train split only, and both rows are measured on',
    'the held-out test split that training never saw. With this little data the numbers are noisy and say',
    'that the pipeline works end to end, not that this model is any good.',
    '',
    'Files:',
    `  workspace   ${r.home}`,
    `  model       ${f.model}`,
    `  training    ${f.run}`,
    `  adapter     ${f.adapter}   (PEFT LoRA: adapter_config.json + adapter_model.safetensors)`,
    `  embeddings  ${f.embeddings}   (test split, float32 .npy; rows described in ${path.basename(f.embeddingsIndex)})`,
    `  dataset     ${f.dataset}`,
    `  results     ${f.results}   (MTEB-style JSON per task)`,
    `  summary     ${f.summary}`,
    '',
    `Done in ${formatDuration(totalS)} (${Object.entries(r.seconds)
      .map(([k, v]) => `${k} ${v.toFixed(1)}s`)
      .join(', ')}).`,
    `Next: \`embedsmith eval compare --home ${r.home}\`, or open it in the app: \`EMBEDSMITH_HOME=${r.home} npm start\`.`,
  ];
  return lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n');
}

/** `embedsmith demo` */
export function registerDemo(program: Command): void {
  withGlobals(program.command('demo'))
    .description(
      'the whole pipeline on the built-in demo data and a tiny generated model: import, split, train, evaluate, export (CPU, no key, no download); workspace: --home, else $EMBEDSMITH_HOME, else a fresh temp folder (never the default app-data one)',
    )
    .option('--base-url <url>', 'first generate a few examples live from this OpenAI-compatible server')
    .option('--models <list>', 'with --base-url: model(s) to generate with, e.g. "llama3=1"')
    .option('--count <n>', 'with --base-url: examples to generate', '30')
    .option(
      '--api-key-env <var>',
      'with --base-url: environment variable holding the key (local servers need none)',
    )
    .option('--steps <n>', 'LoRA training steps', String(DEMO_TRAIN.steps))
    .option(
      '--eval <spec>',
      'also evaluate on a public set: beir:DIR, sts:FILE, clf:DIR, bitext:SRC,TGT, … (repeatable)',
      collect,
      [],
    )
    .option('--eval-limit <n>', 'only the first N queries / pairs / lines of each --eval set')
    .option('--device <d>', 'cpu (default) or auto|cuda|webgpu', 'cpu')
    .action(async (o: DemoOpts) => {
      const steps = Number(o.steps);
      if (!Number.isInteger(steps) || steps < 1)
        throw usageError(`--steps ${o.steps}: expected a positive integer`);
      const count = Number(o.count);
      if (!Number.isInteger(count) || count < 1)
        throw usageError(`--count ${o.count}: expected a positive integer`);
      const evalLimit = o.evalLimit === undefined ? undefined : Number(o.evalLimit);
      if (evalLimit !== undefined && (!Number.isInteger(evalLimit) || evalLimit < 1))
        throw usageError(`--eval-limit ${o.evalLimit}: expected a positive integer`);
      if (o.baseUrl && !o.models) throw usageError('--base-url needs --models (e.g. --models "llama3=1")');
      if (o.models && !o.baseUrl) throw usageError('--models needs --base-url (the server to generate with)');
      if (!['auto', 'cpu', 'cuda', 'webgpu'].includes(o.device))
        throw usageError(`--device ${o.device}: use cpu, auto, cuda or webgpu`);
      // --home, else $EMBEDSMITH_HOME (as every command), else a fresh folder: never the default app-data
      // workspace, which the demo's rows and runs would clutter.
      const home =
        o.home ?? process.env.EMBEDSMITH_HOME ?? fs.mkdtempSync(path.join(os.tmpdir(), 'embedsmith-demo-'));
      const t0 = Date.now();
      await runWithWorkbench({ ...o, home }, async ({ wb, out, log, bar }) => {
        log(`embedsmith demo: workspace ${home}`);
        const bars = new Map<string, ReturnType<typeof bar>>();
        let current: string | null = null;
        // The whole pipeline is one job of the registry (its training is a job of its own), so the app's
        // Jobs panel lists the demo with its stage, done with its summary or failed with its one line.
        const r = await wb.jobs.run(
          'demo',
          `demo: import, train, evaluate, export in ${home}`,
          (job) =>
            runDemo(
              wb,
              {
                steps,
                evalSpecs: o.eval,
                evalLimit,
                device: o.device as 'cpu',
                generate: o.baseUrl
                  ? { baseUrl: o.baseUrl, models: o.models as string, count, apiKeyEnv: o.apiKeyEnv }
                  : undefined,
              },
              {
                onStage: (s, detail) => {
                  // Finish the previous stage's bar line before the next header (TTY bars redraw in place).
                  if (current) bars.get(current)?.done();
                  current = null;
                  log(`\n== ${s}: ${detail}`);
                },
                onLog: (m) => {
                  if (!/^(step|epoch)\b/.test(m)) log(m);
                },
                onProgress: (s, p) => {
                  if (current !== s) {
                    if (current) bars.get(current)?.done();
                    current = s;
                  }
                  let b = bars.get(s);
                  if (!b) {
                    b = bar(s.padEnd(12));
                    bars.set(s, b);
                  }
                  b.update(p);
                  job.progress({ ...p, message: p.message ? `${s}: ${p.message}` : s });
                },
              },
            ),
          {
            config: { steps, eval: o.eval, device: o.device, generate: Boolean(o.baseUrl) },
            summary: (d) => ({
              steps: d.training.steps,
              averageBase: d.evaluation.averageBase,
              averageAdapter: d.evaluation.averageAdapter,
              out: d.files.summary,
            }),
          },
        );
        if (current) bars.get(current)?.done();
        const total = (Date.now() - t0) / 1000;
        out({ ...r, totalSeconds: total }, () => formatDemo(r, total));
      });
    });
}
