import type { Command } from 'commander';
import {
  TRAIN_FIELDS,
  TRAIN_KEYS,
  type TrainKey,
  type TrainTextValue,
  trainDefault,
  trainInputFromText,
  trainValueText,
} from '../../shared/training';
import { trainingHealth } from '../../shared/training-health';
import { formatPlan, planRefusal } from '../training/memory-plan';
import { readTrainLog } from '../training/train-log';
import { newRunId } from '../training/service';
import { type GlobalOpts, runWithWorkbench, withGlobals } from './context';

/** Commander's values: one per field flag (camelCase), plus the run controls. */
type TrainOpts = GlobalOpts & { resume?: string; dryRun?: boolean; plan?: boolean } & Record<string, unknown>;

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').filter(Boolean)];

/** Commander's camelCase attribute of a field's flag (`--dataset` → `dataset`). */
const attr = (k: TrainKey) =>
  TRAIN_FIELDS[k].meta.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** One option per training field, with the schema's help and default (src/shared/training.ts). */
export function addTrainOptions(cmd: Command): Command {
  for (const k of TRAIN_KEYS) {
    const m = TRAIN_FIELDS[k].meta;
    const def = trainDefault(k);
    const shown = def === undefined || def === null ? '' : ` (default: ${trainValueText(def)})`;
    if (k === 'datasets') cmd.option(`--${m.flag} ${m.arg}`, m.help, collect);
    else cmd.option(`--${m.flag} ${m.arg}`, `${m.help}${shown}`);
  }
  return cmd;
}

/** The commander options → the text values the shared schema turns into a typed input. */
export function trainTextFromOpts(o: Record<string, unknown>): Partial<Record<TrainKey, TrainTextValue>> {
  const v: Partial<Record<TrainKey, TrainTextValue>> = {};
  for (const k of TRAIN_KEYS) {
    const x = o[attr(k)];
    if (typeof x === 'string' || typeof x === 'boolean' || Array.isArray(x)) v[k] = x as TrainTextValue;
  }
  return v;
}

/** `embedsmith train …` */
export function registerTrain(program: Command): void {
  addTrainOptions(
    withGlobals(program.command('train')).description(
      'LoRA-fine-tune an embedding model on a dataset train split (InfoNCE, GradCache, AdamW)',
    ),
  )
    .option('--resume <dir>', 'continue the run in this folder from its newest checkpoint')
    .option('--dry-run', 'validate and print the resolved configuration, then stop (nothing is written)')
    .option(
      '--plan',
      'print the memory plan (weights, LoRA + AdamW, activations per chunk with and without --recompute, the largest chunk that fits), then stop',
    )
    .action((o: TrainOpts) =>
      runWithWorkbench(o, async ({ wb, out, log, bar }) => {
        const svc = wb.training;
        const input = trainInputFromText(trainTextFromOpts(o));
        const p = svc.prepare(
          {
            ...input,
            datasets: input.datasets ?? [],
            model: input.model ?? '',
            out: input.out ?? `${wb.paths.runs}/${newRunId()}`,
          },
          { resume: o.resume, planOnly: Boolean(o.plan) },
        );
        if (o.plan) {
          const refusal = p.plan && planRefusal(p.plan);
          out({ plan: p.plan, fits: p.plan?.fits ?? null, refusal }, () =>
            p.plan
              ? [...formatPlan(p.plan), ...(refusal ? [refusal] : [])].join('\n')
              : 'no memory plan for --encoder reference',
          );
          return;
        }
        if (o.dryRun) {
          out({ config: p.config, rows: p.rows, totalSteps: p.totalSteps, runDir: p.runDir }, () =>
            JSON.stringify(p.config, null, 2),
          );
          return;
        }
        if (p.plan) for (const line of formatPlan(p.plan)) log(line);
        log(
          `${p.resume ? 'resuming' : 'training'} ${p.runId}: ${p.rows} train rows, ${p.totalSteps} steps of ${p.config.batchSize} (chunks of ${p.config.chunkSize}) → ${p.runDir}`,
        );
        const b = bar('train');
        const h = svc.start(p, {
          onLog: log,
          onStep: (e) =>
            b.update({
              done: e.step,
              total: e.totalSteps,
              unit: 'steps',
              ratePerS: null,
              etaS: e.etaS,
              message: `loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} ${e.examplesPerS.toFixed(1)} ex/s ${Math.round(e.tokensPerS)} tok/s`,
            }),
        });
        const onSig = () => {
          log('\ninterrupt: saving a checkpoint (again to force quit)');
          process.off('SIGINT', onSig);
          h.cancel();
        };
        process.on('SIGINT', onSig);
        try {
          const r = await h.done;
          b.done();
          // Training-health hints (loss ends above its start, ≈ 0, flat), as the Train screen shows them.
          const health = trainingHealth(readTrainLog(r.runDir, Number.POSITIVE_INFINITY).map((x) => x.loss));
          out({ run: h.runId, job: h.id, ...r, health }, () =>
            [
              r.state === 'done'
                ? `done: ${r.step} steps, last loss ${r.lastLoss?.toFixed(4)}; adapter ${r.adapterDir}`
                : `cancelled at step ${r.step}; continue with \`embedsmith train --resume ${r.runDir}\``,
              ...health.map((x) => `hint: ${x.message}`),
            ].join('\n'),
          );
        } finally {
          process.off('SIGINT', onSig);
        }
      }),
    );
}
