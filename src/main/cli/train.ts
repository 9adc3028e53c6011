import type { Command } from 'commander';
import { DEFAULTS } from '../training/config';
import { newRunId } from '../training/service';
import { type GlobalOpts, runWithWorkbench, withGlobals } from './context';

interface TrainOpts extends GlobalOpts {
  dataset?: string[];
  model?: string;
  encoder: string;
  loraRank: string;
  loraAlpha: string;
  loraDropout: string;
  targetModules: string;
  batchSize: string;
  chunkSize: string;
  lr: string;
  warmup: string;
  weightDecay: string;
  temperature: string;
  epochs: string;
  maxSteps?: string;
  maxLength: string;
  maxGradNorm: string;
  seed: string;
  device: string;
  dtype: string;
  groupBy: string;
  checkpointEvery: string;
  out?: string;
  resume?: string;
  negatives: string;
  dropFalseNegatives?: string | boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').filter(Boolean)];
/** Numbers go to zod as numbers (NaN for junk) so its message names the flag. */
const num = (s: string | undefined) =>
  s === undefined ? undefined : s.trim() === '' ? Number.NaN : Number(s);

/** `embedsmith train …` */
export function registerTrain(program: Command): void {
  withGlobals(program.command('train'))
    .description('LoRA-fine-tune an embedding model on a dataset train split (InfoNCE, GradCache, AdamW)')
    .option('--dataset <name>', 'dataset(s) to train on (repeat or comma-separate)', collect)
    .option('--model <dir>', 'base model folder (HF checkpoint with tokenizer)')
    .option('--lora-rank <n>', 'LoRA rank r', String(DEFAULTS.loraRank))
    .option('--lora-alpha <n>', 'LoRA alpha (scaling alpha / r)', String(DEFAULTS.loraAlpha))
    .option('--lora-dropout <p>', 'dropout on the LoRA branch', String(DEFAULTS.loraDropout))
    .option('--target-modules <list>', 'comma-separated module names, or all-linear', 'all-linear')
    .option(
      '--batch-size <n>',
      'contrastive batch (rows); every positive and negative is a candidate',
      String(DEFAULTS.batchSize),
    )
    .option(
      '--chunk-size <n>',
      'GradCache chunk (sequences per forward/backward); memory grows with this',
      String(DEFAULTS.chunkSize),
    )
    .option('--lr <x>', 'peak learning rate', String(DEFAULTS.lr))
    .option('--warmup <steps>', 'linear warm-up steps, then linear decay', String(DEFAULTS.warmup))
    .option('--weight-decay <x>', 'AdamW decoupled weight decay', String(DEFAULTS.weightDecay))
    .option('--temperature <x>', 'InfoNCE temperature τ', String(DEFAULTS.temperature))
    .option('--epochs <n>', 'passes over the train split', String(DEFAULTS.epochs))
    .option('--max-steps <n>', 'stop after this many optimiser steps')
    .option('--max-length <n>', 'max tokens per text (EOS included)', String(DEFAULTS.maxLength))
    .option('--max-grad-norm <x>', 'global gradient-norm clip (0 = off)', '1')
    .option('--seed <n>', 'seed of LoRA init, data order and dropout', '42')
    .option('--device <d>', 'auto|cuda|webgpu|cpu', 'auto')
    .option('--dtype <t>', 'base weights: auto|float32|float16|bfloat16 (LoRA masters stay float32)', 'auto')
    .option('--group-by <g>', 'draw each batch from one: none|kind|dataset', 'none')
    .option('--checkpoint-every <steps>', 'checkpoint interval (0 = only at the end)', '100')
    .option('--encoder <e>', 'model (ONNX training graphs) or reference (pure-TS test encoder)', 'model')
    .option('--negatives <src>', 'hard negatives: llm (written), mined (`embedsmith mine`), or both', 'llm')
    .option(
      '--drop-false-negatives [what]',
      'skip negatives the latest `embedsmith score` flagged: negative (drop it, keep the pair; default) or row',
    )
    .option('--out <dir>', 'run folder (default: <home>/runs/<run id>)')
    .option('--resume <dir>', 'continue the run in this folder from its newest checkpoint')
    .action((o: TrainOpts) =>
      runWithWorkbench(o, async ({ wb, out, log, bar }) => {
        const svc = wb.training;
        const p = svc.prepare(
          {
            datasets: o.dataset ?? [],
            model: o.model ?? '',
            encoder: o.encoder,
            loraRank: num(o.loraRank),
            loraAlpha: num(o.loraAlpha),
            loraDropout: num(o.loraDropout),
            targetModules: o.targetModules
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
            batchSize: num(o.batchSize),
            chunkSize: num(o.chunkSize),
            lr: num(o.lr),
            warmup: num(o.warmup),
            weightDecay: num(o.weightDecay),
            temperature: num(o.temperature),
            epochs: num(o.epochs),
            maxSteps: num(o.maxSteps) ?? null,
            maxLength: num(o.maxLength),
            maxGradNorm: num(o.maxGradNorm),
            seed: num(o.seed),
            device: o.device,
            dtype: o.dtype,
            groupBy: o.groupBy,
            checkpointEvery: num(o.checkpointEvery),
            negatives: o.negatives,
            dropFalseNegatives:
              o.dropFalseNegatives === undefined
                ? 'off'
                : o.dropFalseNegatives === true
                  ? 'negative'
                  : o.dropFalseNegatives,
            out: o.out ?? `${wb.paths.runs}/${newRunId()}`,
          },
          { resume: o.resume },
        );
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
          out({ run: h.runId, job: h.id, ...r }, () =>
            r.state === 'done'
              ? `done: ${r.step} steps, last loss ${r.lastLoss?.toFixed(4)}; adapter ${r.adapterDir}`
              : `cancelled at step ${r.step}; continue with \`embedsmith train --resume ${r.runDir}\``,
          );
        } finally {
          process.off('SIGINT', onSig);
        }
      }),
    );
}
