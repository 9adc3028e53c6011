// The launch files and README of an exported trainer job, rendered from its recipe (the one object that
// holds the run's values), so no value is typed twice.
import { TRAIN_FIELDS, TRAIN_KEYS, type TrainKey } from '../../../shared/training';
import type { Recipe } from './recipe';

const mixedPrecision = (r: Recipe) =>
  r.job.torchDtype === 'bfloat16' ? 'bf16' : r.job.torchDtype === 'float16' ? 'fp16' : 'no';

/** One node, N GPUs: torchrun starts one process per GPU. */
export function renderLaunch(r: Recipe): string {
  return [
    '#!/usr/bin/env bash',
    `# One node, ${r.job.gpusPerNode} GPU(s): one process per GPU (torchrun). Extra arguments go to train.py`,
    '# (e.g. --resume, --output-dir DIR). Several nodes: sbatch job.sbatch, or accelerate (README.md).',
    'set -euo pipefail',
    'cd "$(dirname "$0")"',
    `exec torchrun --standalone --nnodes=1 --nproc_per_node=${r.job.gpusPerNode} train.py "$@"`,
    '',
  ].join('\n');
}

/** `accelerate launch --config_file accelerate.yaml train.py` (per node: --machine_rank, --main_process_ip). */
export function renderAccelerate(r: Recipe): string {
  const multi = r.job.worldSize > 1;
  return [
    '# accelerate launch --config_file accelerate.yaml train.py',
    '# Several machines: run it on each with --machine_rank <0..num_machines-1> --main_process_ip <rank 0 host>.',
    'compute_environment: LOCAL_MACHINE',
    `distributed_type: ${multi ? 'MULTI_GPU' : 'NO'}`,
    'downcast_bf16: "no"',
    'gpu_ids: all',
    'machine_rank: 0',
    'main_training_function: main',
    `mixed_precision: "${mixedPrecision(r)}"`,
    `num_machines: ${r.job.nodes}`,
    `num_processes: ${r.job.worldSize}`,
    'main_process_port: 29500',
    'rdzv_backend: static',
    'same_network: true',
    'use_cpu: false',
    '',
  ].join('\n');
}

/** SLURM: one task per node, each a torchrun over that node's GPUs, joined by a c10d rendezvous. */
export function renderSbatch(r: Recipe): string {
  const name = (r.source.run ?? r.source.datasets.join('-')).replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 60);
  return [
    '#!/usr/bin/env bash',
    `#SBATCH --job-name=embedsmith-${name}`,
    `#SBATCH --nodes=${r.job.nodes}`,
    '#SBATCH --ntasks-per-node=1',
    `#SBATCH --gpus-per-node=${r.job.gpusPerNode}`,
    '#SBATCH --output=slurm-%j.out',
    '# sbatch job.sbatch [train.py arguments]; submit from this folder (the job runs in the submit folder).',
    'set -euo pipefail',
    'cd "$SLURM_SUBMIT_DIR"',
    'head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
    'srun torchrun \\',
    '  --nnodes="$SLURM_NNODES" \\',
    `  --nproc_per_node=${r.job.gpusPerNode} \\`,
    '  --rdzv_id="$SLURM_JOB_ID" \\',
    '  --rdzv_backend=c10d \\',
    '  --rdzv_endpoint="$head_node:29500" \\',
    '  train.py "$@"',
    '',
  ].join('\n');
}

/** Version ranges train.py is written against; the pins are the GPU test machine's (issue #19). */
export function renderRequirements(): string {
  return [
    '# train.py uses sentence-transformers >= 5.1 (batch_sampler callables, CachedMultipleNegativesRankingLoss',
    '# with labels), PEFT LoRA through SentenceTransformer.add_adapter, and the HF Trainer.',
    '# Target versions: the GPU test machine of issue #19 (torch 2.11, transformers 5.17, sentence-transformers',
    '# 6.0.1). Whether the exported job reproduces our step-1 loss there is what bench/scaleout-check.sh checks.',
    'torch>=2.4',
    'transformers>=4.56',
    'sentence-transformers>=5.1,<7',
    'peft>=0.15',
    'accelerate>=1.0',
    'datasets>=3.0',
    'safetensors>=0.4',
    '',
  ].join('\n');
}

/** Where each setting of the schema goes in the job (or why it has no place there). */
const IN_THE_JOB: Record<TrainKey, string> = {
  datasets: 'the rows of train.jsonl (train split, accepted examples)',
  model: 'SentenceTransformer(model folder): base weights and tokenizer (--model to move it)',
  epochs: 'batches.jsonl holds every step of every epoch; max_steps = the total',
  maxSteps: 'max_steps (the total of batches.jsonl)',
  batchSize: 'the global batch: per_device_train_batch_size × processes',
  lr: 'learning_rate',
  maxLength: 'the collator truncates as our tokenizer code does (EOS kept)',
  loraRank: 'LoraConfig r',
  loraAlpha: 'LoraConfig lora_alpha',
  loraDropout: 'LoraConfig lora_dropout',
  targetModules: 'LoraConfig target_modules (resolved to module names, see below)',
  temperature: 'CachedMultipleNegativesRankingLoss scale = 1/τ',
  negatives: 'which negatives train.jsonl holds (llm, mined or both)',
  dropFalseNegatives: 'flagged negatives (or rows) already dropped from train.jsonl',
  groupBy: 'batches.jsonl draws each batch as our trainer does',
  device: 'not used: the job runs where torchrun puts it (CUDA)',
  dtype: 'base weights dtype (model_kwargs) and bf16/fp16 autocast; LoRA stays float32',
  recompute: 'gradient_checkpointing (on and auto → true, off → false)',
  memoryGb: 'not used: our memory plan only',
  chunkSize: 'CachedMultipleNegativesRankingLoss mini_batch_size (per process)',
  warmup: 'warmup_steps, then linear decay to 0 (lr_scheduler_type linear)',
  weightDecay: 'weight_decay (AdamW, decoupled)',
  maxGradNorm: 'max_grad_norm (0 = no clipping)',
  betas: 'adam_beta1, adam_beta2',
  eps: 'adam_epsilon',
  seed: 'seed (LoRA init, dropout); the data order is ours, from batches.jsonl',
  checkpointEvery: 'save_steps (0: save_strategy no, only the final adapter)',
  encoder: 'not used: the job always trains the real model',
  out: 'not used: train.py --output-dir (default ./output)',
};

const cell = (v: unknown) => `\`${JSON.stringify(v)}\``;

/** README.md: how to run the job, every setting with its value, and what matches our trainer. */
export function renderReadme(r: Recipe): string {
  const c = r.config;
  const j = r.job;
  const settings = TRAIN_KEYS.map(
    (k) =>
      `| ${TRAIN_FIELDS[k].meta.label} | \`--${TRAIN_FIELDS[k].meta.flag}\` | ${cell(c[k])} | ${IN_THE_JOB[k]} |`,
  );
  const derived: [string, unknown, string][] = [
    ['scale', j.scale, 'CachedMultipleNegativesRankingLoss scale (1/τ)'],
    ['miniBatchSize', j.miniBatchSize, 'CachedMultipleNegativesRankingLoss mini_batch_size'],
    ['globalBatch', j.globalBatch, 'rows per optimiser step, over all processes'],
    ['gpusPerNode', j.gpusPerNode, 'torchrun --nproc_per_node'],
    ['nodes', j.nodes, 'SLURM --nodes / accelerate num_machines'],
    ['worldSize', j.worldSize, 'processes in all'],
    ['perDeviceBatch', j.perDeviceBatch, 'per_device_train_batch_size'],
    ['totalSteps', j.totalSteps, 'max_steps (lines of batches.jsonl)'],
    ['rows', j.rows, 'lines of train.jsonl'],
    ['maxNegatives', j.maxNegatives, 'negative_1 … negative_K columns (shorter rows padded, padding masked)'],
    ['targetModules', j.targetModules, 'LoraConfig target_modules'],
    ['pooling', j.pooling, 'sentence-transformers Pooling mode'],
    ['normalize', j.normalize, 'Normalize module (L2)'],
    ['torchDtype', j.torchDtype, 'base weights dtype; bf16/fp16 flag of the trainer'],
    ['gradientCheckpointing', j.gradientCheckpointing, 'gradient_checkpointing'],
  ];
  return [
    '# Embedsmith training job for sentence-transformers + PEFT',
    '',
    `Written by \`embedsmith export trainer\` from ${r.source.run ? `run \`${r.source.run}\`` : `dataset(s) ${r.source.datasets.map((d) => `\`${d}\``).join(', ')}`}.`,
    `Base model: \`${r.model}\`. ${j.rows} rows, ${j.totalSteps} steps of ${j.globalBatch} rows on ${j.worldSize} process(es).`,
    '',
    '## Run it',
    '',
    '```sh',
    'pip install -r requirements.txt',
    'python train.py                    # one GPU: the whole global batch (GradCache: memory of one chunk)',
    `bash launch.sh                     # one node, ${j.gpusPerNode} GPU(s): torchrun --nproc_per_node=${j.gpusPerNode}`,
    'accelerate launch --config_file accelerate.yaml train.py',
    `sbatch job.sbatch                  # SLURM: ${j.nodes} node(s) × ${j.gpusPerNode} GPU(s)`,
    'bash launch.sh --resume            # continue from the newest checkpoint in ./output',
    '```',
    '',
    'The result is `output/adapter/` (PEFT layout: `adapter_config.json` + `adapter_model.safetensors`), which',
    '`embedsmith eval --model <base> --adapter output/adapter` evaluates, and `output/final/` (a',
    'sentence-transformers folder). `output/train.log.jsonl` has one line per step (step, loss, lr).',
    `The global batch of ${j.globalBatch} rows is split over the processes train.py finds (WORLD_SIZE): the`,
    `launch files start the exported ${j.worldSize}; any count that divides ${j.globalBatch} trains the same loss.`,
    '',
    '## Files',
    '',
    '- `train.jsonl`: the rows exactly as our trainer sees them, loadable with',
    '  `datasets.load_dataset("json", data_files="train.jsonl")`: `anchor` is the query with its instruction',
    '  template applied, `positive`, `negatives` (hard negatives after `--negatives` and',
    '  `--drop-false-negatives`), plus `id`, `dataset`, `kind`, `instruction`.',
    "- `batches.jsonl`: our trainer's batch order, one line per optimiser step (row indices into train.jsonl).",
    "- `recipe.json`: the run's training config (`config`), what was derived from it (`job`) and how our",
    '  code tokenizes this model (`tokenizer`). train.py reads every value from here.',
    '- `train.py` (model, LoRA, loss, trainer arguments, adapter) and `embedsmith_recipe.py` (torch only:',
    '  dataset columns with text ids, our batch order, our tokenization, the masked InfoNCE),',
    '  `launch.sh`, `accelerate.yaml`, `job.sbatch`, `requirements.txt`.',
    '',
    '## Settings',
    '',
    '| setting | Embedsmith flag | value | in the job |',
    '| --- | --- | --- | --- |',
    ...settings,
    '',
    '## Derived for this job',
    '',
    '| name | value | in the job |',
    '| --- | --- | --- |',
    ...derived.map(([k, v, what]) => `| ${k} | ${cell(v)} | ${what} |`),
    '',
    '## What matches our trainer',
    '',
    "- Rows, instruction templates, hard negatives and dropped false negatives: train.jsonl is our trainer's",
    '  row list; batches.jsonl is its batch order (seeded shuffle, `--group-by`, last partial batch dropped).',
    "- Tokenization: the tokenizer's own special tokens; with last-token pooling the sequence ends with EOS",
    '  (appended after truncating to max length − 1 when the tokenizer does not add it); padding on the',
    "  tokenizer's side; decoders get position ids cumsum(mask) − 1. Pooling and L2 normalisation as ours.",
    '- Loss: InfoNCE over the whole global batch, candidates = every positive then every hard negative,',
    '  scores q·c / τ, loss = mean over rows of logsumexp over allowed candidates − own score.',
    "  **False negatives**: a candidate whose text equals row i's positive text, other than row i's own",
    "  positive (another row's identical positive, or a hard negative equal to it), is removed from row i's",
    '  softmax, not pushed away. train.py does this with a subclass of CachedMultipleNegativesRankingLoss',
    '  that compares text ids (one id per distinct text, exact string equality, computed over train.jsonl);',
    '  it does not use `batch_sampler=NO_DUPLICATES` (that would change the batches).',
    '- GradCache: CachedMultipleNegativesRankingLoss embeds in mini-batches of `chunkSize` and caches the',
    '  embedding gradients, as our trainer does.',
    '- LoRA r / alpha / dropout / target modules, AdamW (lr, betas, eps, decoupled weight decay), linear',
    '  warm-up then linear decay to 0 over the total steps, gradient-norm clipping, seed, checkpoints every',
    "  N steps with resume, the adapter in PEFT's layout.",
    '',
    '## In-batch negatives: global (default) or per device',
    '',
    `train.py gathers the embeddings of all ${j.worldSize} process(es) before the loss (all_gather with gradients),`,
    `so every row competes with all ${j.globalBatch} positives and every hard negative of the global batch: the`,
    'loss our trainer computes. `python train.py --per-device-negatives` (or `bash launch.sh',
    `--per-device-negatives\`) skips the gather: each GPU's ${j.perDeviceBatch} rows see only their own candidates,`,
    'which is cheaper in communication but a smaller, different contrastive batch.',
    '',
    '## What cannot match',
    '',
    "- Random numbers: LoRA A is initialised from torch's generator (same kaiming-uniform distribution as",
    '  ours, different values) and LoRA dropout masks differ, so runs agree in distribution, not bit for bit.',
    "  The first step's loss does not depend on either (B starts at 0; with dropout 0 it is deterministic):",
    '  `bench/scaleout-check.sh` compares it with ours.',
    '- Precision: bf16 autocast on CUDA rounds differently from our bf16 ONNX graphs; the loss itself is',
    '  computed in float32 in both.',
    '- `--device`, `--memory-gb` and `--encoder` have no meaning for this job; `--recompute auto` becomes',
    '  gradient checkpointing on (our memory plan needs the device).',
    '- The `cls` pooling of sentence-transformers takes position 0: right padding (the tokenizer default for',
    '  BERT-style models) gives our first real token; a left-padding tokenizer would not.',
    '- Rows have different numbers of hard negatives; the dataset has `maxNegatives` negative columns, the',
    '  missing ones are empty texts masked out of every softmax (embedded, then ignored).',
    '',
  ].join('\n');
}
