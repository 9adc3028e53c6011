import path from 'node:path';
import type { Command } from 'commander';
import { prepareText } from '../eval/prepare';
import { UserError, usageError } from '../errors';
import type { Device } from '../models/model';
import type { Role } from '../models/pooling';
import { type GlobalOpts, runWithWorkbench, table, withGlobals } from './context';

// Loaded on use: the model stack pulls in onnxruntime-node, which other commands should not pay for.
const lib = async () => {
  const [model, hub, io, exp] = await Promise.all([
    import('../models/model'),
    import('../models/hub'),
    import('../models/io'),
    import('../models/export'),
  ]);
  return { ...model, ...hub, ...io, ...exp };
};

const DEVICES = ['auto', 'cuda', 'webgpu', 'cpu'];

function intOpt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw usageError(`--${name} must be a positive integer, got ${v}`);
  return n;
}

interface EmbedOpts extends GlobalOpts {
  model: string;
  adapter?: string;
  input: string;
  role: string;
  instruction?: string;
  out: string;
  batchSize?: string;
  maxLength?: string;
  device: string;
  dtype: string;
  attention: string;
}

/** `embedsmith embed …` and `embedsmith models …` */
export function registerEmbed(program: Command): void {
  withGlobals(
    program
      .command('embed')
      .description('embed texts with a model folder (optionally with a LoRA adapter)')
      .requiredOption('--model <dir>', 'model folder or pulled model id')
      .option('--adapter <dir>', 'PEFT LoRA adapter folder')
      .requiredOption('--input <file>', 'texts: .txt (one per line) or .jsonl (strings or {"text": …})')
      .option('--role <role>', 'query | document', 'document')
      .option('--instruction <text>', 'task instruction for queries')
      .requiredOption('--out <file>', 'embeddings: .npy, .jsonl or .parquet')
      .option('--batch-size <n>', 'sequences per forward (default 16)')
      .option('--max-length <n>', 'truncate to this many tokens')
      .option('--device <d>', 'auto | cuda | webgpu | cpu', 'auto')
      .option('--dtype <t>', 'compute dtype: float32 | float16 | bfloat16 (GPU)', 'float32')
      .option(
        '--attention <a>',
        'auto (decoders causal, encoders bidirectional) | causal | bidirectional',
        'auto',
      ),
  ).action((opts: EmbedOpts) =>
    runWithWorkbench(opts, async ({ wb, out, bar, log }) => {
      if (opts.role !== 'query' && opts.role !== 'document')
        throw usageError(`--role must be query or document, got ${opts.role}`);
      if (!DEVICES.includes(opts.device)) throw usageError(`--device must be one of ${DEVICES.join(', ')}`);
      if (!['float32', 'float16', 'bfloat16'].includes(opts.dtype))
        throw usageError(`--dtype must be float32, float16 or bfloat16, got ${opts.dtype}`);
      if (!['auto', 'causal', 'bidirectional'].includes(opts.attention))
        throw usageError(`--attention must be auto, causal or bidirectional, got ${opts.attention}`);
      const { EmbeddingModel, readTexts, resolveModelDir, writeEmbeddings } = await lib();
      const ext = path.extname(opts.out).toLowerCase();
      if (!['.npy', '.jsonl', '.parquet'].includes(ext))
        throw usageError(`--out must end in .npy, .jsonl or .parquet`);
      const dir = resolveModelDir(wb.paths.models, opts.model);
      const model = EmbeddingModel.load(dir, {
        maxLength: intOpt('max-length', opts.maxLength),
        device: opts.device as Device,
        dtype: opts.dtype as 'float32' | 'float16' | 'bfloat16',
        causal: opts.attention === 'auto' ? undefined : opts.attention === 'causal',
      });
      try {
        const adapter = opts.adapter ? model.loadAdapter(opts.adapter) : null;
        // Prepared exactly as eval prepares them (documents stripped like a BEIR corpus), one row per line.
        const texts = readTexts(opts.input).map((t) => prepareText(t, opts.role as Role));
        const empty = texts.filter((t) => !t.trim()).length;
        if (empty)
          log(
            `warning: ${empty} empty text${empty === 1 ? '' : 's'} in ${opts.input} embedded as empty text (as eval and MTEB do), so row i stays line i`,
          );
        const b = bar('embed');
        const t0 = Date.now();
        const emb = await model.embed(texts, {
          role: opts.role as Role,
          instruction: opts.instruction ?? null,
          batchSize: intOpt('batch-size', opts.batchSize),
          adapter,
          onProgress: (p) => b.update(p),
        });
        b.done();
        // NaN weights (a diverged adapter, a corrupt model) give NaN vectors: say so rather than write them.
        let bad = 0;
        for (let i = 0; i < texts.length; i++)
          if (emb.subarray(i * model.dim, (i + 1) * model.dim).some((x) => !Number.isFinite(x))) bad++;
        if (bad)
          throw new UserError(
            `warning: ${bad} of ${texts.length} embeddings are not finite (NaN/Infinity): ${opts.adapter ? `--adapter ${opts.adapter} or ` : ''}--model ${opts.model} holds non-finite weights; nothing written to ${opts.out}`,
          );
        writeEmbeddings(opts.out, texts, emb, model.dim);
        const seconds = (Date.now() - t0) / 1000;
        if (!opts.json) log(`${texts.length} texts in ${seconds.toFixed(1)} s`);
        out(
          {
            out: path.resolve(opts.out),
            count: texts.length,
            dim: model.dim,
            modelType: model.arch.modelType,
            pooling: model.pooling,
            normalized: model.normalize,
            attention: model.causal ? 'causal' : 'bidirectional',
            adapter: opts.adapter ? path.resolve(opts.adapter) : null,
            seconds,
          },
          `wrote ${texts.length} × ${model.dim} embeddings to ${opts.out}`,
        );
      } finally {
        await model.dispose();
      }
    }),
  );

  const models = program.command('models').description('pull, list, remove and export models');

  withGlobals(
    models
      .command('pull')
      .argument('<id>', 'Hugging Face model id (owner/name)')
      .option('--revision <rev>', 'branch, tag or commit', 'main')
      .option('--endpoint <url>', 'hub endpoint (default $HF_ENDPOINT or https://huggingface.co)'),
  )
    .description("download a model's safetensors, config and tokenizer files (resumable, verified)")
    .action((id: string, opts: GlobalOpts & { revision: string; endpoint?: string }) =>
      runWithWorkbench(opts, async ({ wb, out, bar }) => {
        const { pullModel } = await lib();
        const b = bar(`pull ${id}`);
        const m = await wb.jobs.run(
          'model-pull',
          `pull ${id}@${opts.revision}`,
          (job) =>
            pullModel(wb.paths.models, id, {
              revision: opts.revision,
              endpoint: opts.endpoint,
              onProgress: (p) => {
                b.update(p);
                job.progress(p);
              },
            }),
          { summary: (r) => ({ files: r.files.length, sha: r.sha }) },
        );
        b.done();
        out({ model: m }, `pulled ${m.id}@${m.sha ?? m.revision} (${m.files.length} files)`);
      }),
    );

  withGlobals(models.command('list'))
    .description('models in the workspace')
    .action((opts: GlobalOpts) =>
      runWithWorkbench(opts, async ({ wb, out }) => {
        const list = (await lib()).listModels(wb.paths.models);
        out({ models: list }, () =>
          list.length
            ? table(
                ['id', 'type', 'revision', 'size'],
                list.map((m) => [
                  m.id,
                  m.modelType,
                  m.sha?.slice(0, 10) ?? m.revision,
                  `${(m.sizeBytes / 1e6).toFixed(1)} MB`,
                ]),
              )
            : 'no models yet (pull one with `embedsmith models pull OWNER/NAME`)',
        );
      }),
    );

  withGlobals(models.command('remove').argument('<id>'))
    .description('delete a pulled model')
    .action((id: string, opts: GlobalOpts) =>
      runWithWorkbench(opts, async ({ wb, out }) => {
        const dir = (await lib()).removeModel(wb.paths.models, id);
        out({ removed: id, dir }, `removed ${id}`);
      }),
    );

  withGlobals(
    models
      .command('export')
      .argument('<model>', 'model folder or pulled model id')
      .requiredOption('--out <dir>', 'output folder (transformers.js layout)')
      .option('--adapter <dir>', 'PEFT LoRA adapter to merge')
      .option('--inline', 'keep weights inside model.onnx (< 2 GB)'),
  )
    .description('export the forward graph (LoRA merged) as ONNX for transformers.js')
    .action((arg: string, opts: GlobalOpts & { out: string; adapter?: string; inline?: boolean }) =>
      runWithWorkbench(opts, async ({ wb, out }) => {
        const { EmbeddingModel, exportOnnx, resolveModelDir } = await lib();
        const model = EmbeddingModel.load(resolveModelDir(wb.paths.models, arg), { inThread: true });
        try {
          const adapter = opts.adapter ? model.loadAdapter(opts.adapter) : null;
          const r = exportOnnx(model, opts.out, { adapter, weights: opts.inline ? 'inline' : 'external' });
          out(
            { out: path.resolve(opts.out), files: r.files },
            `exported to ${opts.out}: ${r.files.join(', ')}`,
          );
        } finally {
          await model.dispose();
        }
      }),
    );
}
