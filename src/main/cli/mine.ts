import type { Command } from 'commander';
import type { Progress } from '../../shared/domain';
import { isKind, type Kind, SPLITS, type Split } from '../../shared/domain';
import { usageError } from '../errors';
import type { ExampleFilter } from '../store/examples';
import { type CliContext, type GlobalOpts, runWithWorkbench, withGlobals } from './context';

interface CommonOpts extends GlobalOpts {
  dataset?: string;
  model?: string;
  adapter?: string;
  kinds?: string;
  language?: string;
  split?: string;
  device: string;
  batchSize?: string;
}

interface MineOpts extends CommonOpts {
  range?: string;
  margin?: string;
  relativeMargin?: string;
  maxScore?: string;
  minScore?: string;
  numNegatives: string;
  sampling: string;
  seed: string;
  corpus?: string;
  provider: string;
}

const DEVICES = ['auto', 'cuda', 'webgpu', 'cpu'] as const;

const number = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw usageError(`${flag} "${v}": expected a number`);
  return n;
};
const integer = (flag: string, v: string | undefined, min: number): number | undefined => {
  const n = number(flag, v);
  if (n !== undefined && (!Number.isInteger(n) || n < min))
    throw usageError(`${flag} "${v}": expected an integer ≥ ${min}`);
  return n;
};

function filterOf(o: CommonOpts): ExampleFilter {
  const f: ExampleFilter = {};
  if (o.kinds) {
    const kinds = o.kinds
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const k of kinds)
      if (!isKind(k))
        throw usageError(
          `--kinds: unknown kind "${k}"; use short-long, long-short, short-short, long-long, sts, bitext`,
        );
    f.kind = kinds as Kind[];
  }
  if (o.language)
    f.language = o.language
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (o.split) {
    if (!(SPLITS as readonly string[]).includes(o.split))
      throw usageError(`--split "${o.split}": use one of ${SPLITS.join(', ')}`);
    f.split = o.split as Split;
  }
  return f;
}

function common(o: CommonOpts) {
  if (!o.dataset) throw usageError('--dataset is required (a dataset name; see `embedsmith datasets list`)');
  if (!o.model) throw usageError('--model is required (a model folder, or builtin:hashbow-256)');
  if (!(DEVICES as readonly string[]).includes(o.device))
    throw usageError(`--device ${o.device}: use one of ${DEVICES.join(', ')}`);
  return {
    dataset: o.dataset,
    model: o.model,
    adapter: o.adapter ?? null,
    device: o.device as (typeof DEVICES)[number],
    batchSize: integer('--batch-size', o.batchSize, 1),
    filter: filterOf(o),
  };
}

/** One progress bar per stage, on stderr. */
function stageBars(ctx: CliContext, verb: string) {
  const bars = new Map<string, ReturnType<CliContext['bar']>>();
  return {
    update(stage: string, p: Progress) {
      let b = bars.get(stage);
      if (!b) {
        for (const x of bars.values()) x.done();
        bars.clear();
        b = ctx.bar(`${verb} ${stage}`);
        bars.set(stage, b);
      }
      b.update(p);
    },
    done() {
      for (const x of bars.values()) x.done();
      bars.clear();
    },
  };
}

const withFilters = (cmd: Command) =>
  cmd
    .option('--dataset <name>', 'dataset')
    .option('--model <dir>', 'model folder (or builtin:hashbow-256)')
    .option('--adapter <dir>', 'PEFT LoRA adapter folder')
    .option('--kinds <list>', 'only these kinds (comma-separated)')
    .option('--language <list>', 'only these languages (comma-separated)')
    .option('--split <split>', `only this split: ${SPLITS.join(', ')}`)
    .option('--device <d>', 'model device: auto, cpu, cuda, webgpu', 'auto')
    .option('--batch-size <n>', 'texts per model batch (default 16)');

/** `embedsmith mine …` and `embedsmith score …` */
export function registerMine(program: Command): void {
  withGlobals(
    withFilters(program.command('mine'))
      .description(
        'mine hard negatives with a model: top-k retrieval over the dataset (or --corpus), filtered by rank, score and margin; stored beside the LLM negatives',
      )
      .option(
        '--range <min-max>',
        'skip the MIN most similar candidates, consider up to rank MAX (e.g. 10-50)',
      )
      .option('--margin <x>', 'absolute margin: drop candidates scoring above positive − x')
      .option('--relative-margin <x>', 'relative margin: drop candidates scoring above positive · (1 − x)')
      .option('--max-score <s>', 'drop candidates scoring above s')
      .option('--min-score <s>', 'drop candidates scoring below s')
      .option('--num-negatives <n>', 'negatives per query', '3')
      .option('--sampling <s>', 'top (best ranked) or random (seeded, within the range)', 'top')
      .option('--seed <n>', 'seed of random sampling', '42')
      .option(
        '--corpus <file_or_dir>',
        'candidate pool: JSONL/TXT file or BEIR folder (default: the dataset)',
      )
      .option('--provider <name>', 'ORT provider of the search: cpu, cuda, webgpu', 'cpu'),
  ).action((o: MineOpts) => {
    const c = common(o);
    let rangeMin: number | undefined;
    let rangeMax: number | undefined;
    if (o.range !== undefined) {
      const m = o.range.match(/^\s*(\d+)\s*-\s*(\d+)\s*$/);
      if (!m) throw usageError(`--range "${o.range}": expected MIN-MAX, e.g. 10-50`);
      rangeMin = Number(m[1]);
      rangeMax = Number(m[2]);
    }
    if (o.sampling !== 'top' && o.sampling !== 'random')
      throw usageError(`--sampling "${o.sampling}": use top or random`);
    const knobs = {
      rangeMin,
      rangeMax,
      margin: number('--margin', o.margin),
      relativeMargin: number('--relative-margin', o.relativeMargin),
      maxScore: number('--max-score', o.maxScore),
      minScore: number('--min-score', o.minScore),
      numNegatives: integer('--num-negatives', o.numNegatives, 1),
      sampling: o.sampling as 'top' | 'random',
      seed: integer('--seed', o.seed, 0),
    };
    return runWithWorkbench(o, async (ctx) => {
      const { formatMineReport } = await import('../mining/report');
      const bars = stageBars(ctx, 'mine');
      try {
        const r = await ctx.wb.jobs.run(
          'mining',
          `mine negatives for ${c.dataset}`,
          (job) =>
            ctx.wb.mining.mine({
              ...c,
              corpus: o.corpus,
              knobs,
              provider: o.provider,
              onProgress: (s, p) => {
                bars.update(s, p);
                job.progress({ ...p, message: s });
              },
            }),
          { summary: () => undefined },
        );
        bars.done();
        ctx.out(r, () => formatMineReport(r));
      } finally {
        bars.done();
      }
    });
  });

  withGlobals(
    withFilters(program.command('score'))
      .description(
        "score every example's positive and negatives (LLM-written and mined) with a model; flag likely false negatives for review",
      )
      .option('--margin <m>', 'flag a negative scoring ≥ positive − m (0: at or above the positive)', '0'),
  ).action((o: CommonOpts & { margin: string }) => {
    const c = common(o);
    const margin = number('--margin', o.margin);
    return runWithWorkbench(o, async (ctx) => {
      const { formatScoreSummary } = await import('../mining/report');
      const bars = stageBars(ctx, 'score');
      try {
        const s = await ctx.wb.jobs.run(
          'mining',
          `score ${c.dataset}`,
          (job) =>
            ctx.wb.mining.score({
              ...c,
              margin,
              onProgress: (st, p) => {
                bars.update(st, p);
                job.progress({ ...p, message: st });
              },
            }),
          { summary: () => undefined },
        );
        bars.done();
        ctx.out(s, () => formatScoreSummary(s));
      } finally {
        bars.done();
      }
    });
  });
}
