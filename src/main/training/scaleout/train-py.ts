// The Python files of an exported trainer job (see README.md there): train.py reads every value from
// recipe.json, so these texts hold no hyper-parameter. Python source verbatim (String.raw: backslashes stay).

/** The job: model, LoRA, loss, trainer arguments, adapter. */
export const TRAIN_PY = String.raw`#!/usr/bin/env python3
"""Embedsmith's training recipe as a sentence-transformers (>= 5.1) + PEFT job, for one or many GPUs.

Written by "embedsmith export trainer". Every hyper-parameter is read from recipe.json beside this file
(rendered from the run's training config); nothing here is a second copy of a default. README.md says
what matches Embedsmith's own trainer and what cannot.

  one GPU:     python train.py
  one node:    bash launch.sh            (torchrun --nproc_per_node N)
  accelerate:  accelerate launch --config_file accelerate.yaml train.py
  SLURM:       sbatch job.sbatch         (srun + torchrun on every node)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import torch
from transformers import AutoTokenizer, TrainerCallback

from embedsmith_recipe import RecipeSampling, masked_info_nce, pad_batch, text_columns, truncate_ids

HERE = Path(__file__).resolve().parent
RECIPE = json.loads((HERE / "recipe.json").read_text(encoding="utf-8"))
CONFIG = RECIPE["config"]  # the run's training config, field names as in Embedsmith's schema
JOB = RECIPE["job"]  # what Embedsmith derived from it for this job (scale, steps, per-device batch, ...)
TOK = RECIPE["tokenizer"]  # how Embedsmith tokenizes and pools for this model


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Embedsmith recipe on sentence-transformers + PEFT")
    p.add_argument("--output-dir", default=str(HERE / "output"), help="checkpoints, log, final adapter")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output-dir")
    p.add_argument("--model", default=RECIPE["model"], help="base model folder (default: the run's)")
    p.add_argument(
        "--per-device-negatives",
        action="store_true",
        help="in-batch negatives from this GPU's rows only (no all-gather): cheaper, but a different loss",
    )
    return p.parse_args()


# ---------- rows, text identity, batch order ----------


def load_rows():
    """train.jsonl through datasets, then the columns sentence-transformers feeds the loss."""
    from datasets import Dataset, load_dataset

    rows = load_dataset("json", data_files=str(HERE / "train.jsonl"), split="train")
    k = JOB["maxNegatives"]
    return Dataset.from_dict(text_columns(rows["anchor"], rows["positive"], rows["negatives"], k))


class RecipeCollator:
    """Tokenizes each text column as Embedsmith does (embedsmith_recipe.truncate_ids / pad_batch)."""

    valid_label_columns = ["label"]

    def __init__(self, tokenizer) -> None:
        self.tok = tokenizer

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        batch: dict[str, torch.Tensor] = {"label": torch.tensor([f["label"] for f in features])}
        for col in [c for c in features[0].keys() if c != "label"]:
            seqs = [truncate_ids(self.tok(f[col], add_special_tokens=True)["input_ids"], TOK) for f in features]
            for key, value in pad_batch(seqs, TOK).items():
                batch[f"{col}_{key}"] = value
        return batch


# ---------- the loss ----------


def make_loss(model, gather: bool):
    try:
        from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss
    except ImportError:  # sentence-transformers 5.x
        from sentence_transformers.losses import CachedMultipleNegativesRankingLoss

    class MaskedCachedMNRL(CachedMultipleNegativesRankingLoss):
        """CachedMultipleNegativesRankingLoss (GradCache: mini-batch embedding, cached embedding
        gradients) whose loss is Embedsmith's masked InfoNCE (embedsmith_recipe.masked_info_nce)."""

        last_loss = float("nan")

        def forward(self, sentence_features, labels):
            self._text_ids = labels  # sentence-transformers 5.x does not pass labels to calculate_loss
            return super().forward(sentence_features, labels)

        def calculate_loss(self, reps, labels=None, *_args, with_backward: bool = False):
            ids = (labels if labels is not None else self._text_ids).to(reps[0][0].device)
            q = torch.cat(reps[0])
            cols = [torch.cat(r) for r in reps[1:]]
            total, self.last_loss = masked_info_nce(
                q, cols, ids, self.scale, self.mini_batch_size, gather=gather, with_backward=with_backward
            )
            return total

    return MaskedCachedMNRL(model, scale=JOB["scale"], mini_batch_size=JOB["miniBatchSize"])


# ---------- model ----------


def torch_dtype():
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[JOB["torchDtype"]]


def load_model(model_dir: str):
    """The base model with Embedsmith's pooling (and L2 normalisation) and the LoRA adapter."""
    import transformers
    from peft import LoraConfig
    from sentence_transformers import SentenceTransformer, models

    dtype_key = "dtype" if tuple(int(x) for x in transformers.__version__.split(".")[:2]) >= (4, 56) else "torch_dtype"
    base = SentenceTransformer(model_dir, model_kwargs={dtype_key: torch_dtype()})
    first = base[0]  # the Transformer module; Embedsmith pools and normalises it itself
    hidden = first.auto_model.config.hidden_size
    mods = [first, models.Pooling(hidden, pooling_mode=JOB["pooling"])]
    if JOB["normalize"]:
        mods.append(models.Normalize())
    model = SentenceTransformer(modules=mods)
    model.add_adapter(
        LoraConfig(
            r=CONFIG["loraRank"],
            lora_alpha=CONFIG["loraAlpha"],
            lora_dropout=CONFIG["loraDropout"],
            target_modules=JOB["targetModules"],
            bias="none",
            use_rslora=False,
            task_type="FEATURE_EXTRACTION",
            inference_mode=False,
        )
    )
    # LoRA masters in float32 over half-precision base weights, as Embedsmith trains them.
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    return model


def save_adapter(model, out: Path, model_dir: str) -> None:
    """The PEFT adapter in PEFT's own layout (base_model.model.<module>.lora_A.weight), which
    "embedsmith eval --adapter DIR" and PeftModel.from_pretrained both read."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    auto = model[0].auto_model
    prefix = "base_model.model."
    tensors = {
        (k if k.startswith(prefix) else prefix + k): v.detach().float().contiguous().cpu()
        for k, v in get_peft_model_state_dict(auto).items()
    }
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "adapter_model.safetensors"), metadata={"format": "pt"})
    cfg = auto.peft_config["default"]
    cfg.base_model_name_or_path = model_dir
    cfg.inference_mode = True
    cfg.save_pretrained(str(out))


class StepLog(TrainerCallback):
    """Writes train.log.jsonl as Embedsmith does (step, loss, lr of that step), the loss unrounded
    (the trainer's own log rounds it to 4 digits)."""

    def __init__(self, loss, path: Path) -> None:
        self.loss, self.path, self.lr = loss, path, None

    def on_optimizer_step(self, args, state, control, optimizer=None, **kw):
        # before the scheduler moves on: the learning rate this step used
        self.lr = optimizer.param_groups[0]["lr"] if optimizer is not None else None

    def on_step_end(self, args, state, control, **kw):
        if state.is_world_process_zero:
            line = {"step": state.global_step, "loss": self.loss.last_loss, "lr": self.lr}
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")


def keep_log_until(path: Path, step: int) -> None:
    """A resumed run rewrites what came after its checkpoint (as Embedsmith's trainer does)."""
    if not path.exists():
        return
    kept = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip() and json.loads(x)["step"] <= step]
    path.write_text("".join(x + "\n" for x in kept), encoding="utf-8")


def newest_checkpoint(out: Path) -> int | None:
    steps = [int(p.name.split("-")[1]) for p in out.glob("checkpoint-*") if p.name.split("-")[1].isdigit()]
    return max(steps) if steps else None


def main() -> None:
    a = parse_args()
    if "WORLD_SIZE" not in os.environ and "CUDA_VISIBLE_DEVICES" not in os.environ:
        # A plain "python train.py" on a multi-GPU machine: one GPU, not the Trainer's DataParallel (whose
        # replicas would each see a part of the batch); torchrun / accelerate for more.
        os.environ["CUDA_VISIBLE_DEVICES"] = "0"
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from transformers import set_seed

    set_seed(CONFIG["seed"])  # before the adapter is created: its initial LoRA A comes from this generator

    out = Path(a.output_dir)
    n_proc = int(os.environ.get("WORLD_SIZE", "1"))
    if JOB["globalBatch"] % n_proc:
        raise SystemExit(
            f"the batch of {JOB['globalBatch']} rows does not split over {n_proc} processes; "
            "export again with --gpus/--nodes that divide --batch-size"
        )
    per_device = JOB["globalBatch"] // n_proc
    model = load_model(a.model)
    loss = make_loss(model, gather=not a.per_device_negatives)
    log_file = out / "train.log.jsonl"
    resume_at = newest_checkpoint(out) if a.resume else None
    if int(os.environ.get("RANK", "0")) == 0:
        out.mkdir(parents=True, exist_ok=True)
        keep_log_until(log_file, resume_at or 0)
    every = CONFIG["checkpointEvery"]
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out),
        max_steps=JOB["totalSteps"],
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=1,
        learning_rate=CONFIG["lr"],
        weight_decay=CONFIG["weightDecay"],
        adam_beta1=CONFIG["betas"][0],
        adam_beta2=CONFIG["betas"][1],
        adam_epsilon=CONFIG["eps"],
        max_grad_norm=CONFIG["maxGradNorm"],  # 0: no clipping, in both
        optim="adamw_torch",
        lr_scheduler_type="linear",
        warmup_steps=CONFIG["warmup"],
        bf16=JOB["torchDtype"] == "bfloat16",
        fp16=JOB["torchDtype"] == "float16",
        gradient_checkpointing=JOB["gradientCheckpointing"],
        gradient_checkpointing_kwargs={"use_reentrant": False},
        seed=CONFIG["seed"],
        data_seed=CONFIG["seed"],
        save_strategy="steps" if every > 0 else "no",
        save_steps=every if every > 0 else 500,
        logging_steps=1,
        report_to="none",
        dataloader_drop_last=True,
        remove_unused_columns=False,
        batch_sampler=RecipeSampling(str(HERE / "batches.jsonl"), n_proc, per_device),
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=load_rows(),
        loss=loss,
        data_collator=RecipeCollator(AutoTokenizer.from_pretrained(a.model)),
        callbacks=[StepLog(loss, log_file)],
    )
    # No model card: its dataset statistics are not what this job is about (and it reads every column).
    for cb in list(trainer.callback_handler.callbacks):
        if type(cb).__name__ == "ModelCardCallback":
            trainer.remove_callback(cb)
    trainer.train(resume_from_checkpoint=True if resume_at is not None else None)
    if trainer.is_world_process_zero():
        final = out / "final"
        model.save_pretrained(str(final), create_model_card=False)
        try:
            save_adapter(model, out / "adapter", a.model)
        except Exception as e:  # an older PEFT: the adapter files of the final folder are the same weights
            print(f"writing the adapter with PEFT's functions failed ({e}); copying {final}'s adapter files")
            (out / "adapter").mkdir(parents=True, exist_ok=True)
            for name in ("adapter_config.json", "adapter_model.safetensors"):
                shutil.copyfile(final / name, out / "adapter" / name)
        print(json.dumps({"adapter": str(out / "adapter"), "final": str(final), "steps": trainer.state.global_step}))


if __name__ == "__main__":
    main()
`;

/** torch + stdlib only: columns with text ids, batch order, tokenization, masked InfoNCE (checked on its own). */
// biome-ignore lint/complexity/noUselessStringRaw: Python source, kept verbatim like TRAIN_PY
export const RECIPE_PY = String.raw`"""The parts of Embedsmith's recipe that train.py needs beyond sentence-transformers: the dataset columns
with text ids, the batch order, tokenization as Embedsmith does it, and InfoNCE with its false-negative
masking. Only torch and the standard library, so each piece can be checked on its own."""

from __future__ import annotations

import json

import torch
import torch.distributed as dist


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def text_columns(anchors, positives, negatives, k: int) -> dict[str, list]:
    """The columns sentence-transformers feeds the loss: anchor, positive, negative_1..k and label.

    label holds one integer per text of the row (its positive, then each negative column): one id per
    distinct text, by exact string equality as Embedsmith compares texts, so the loss can mask a candidate
    whose text is the row's positive text. A row with fewer than k negatives gets empty texts there,
    labelled -1 (masked out of every softmax)."""
    ids: dict[str, int] = {}

    def tid(t: str) -> int:
        return ids.setdefault(t, len(ids))

    cols: dict[str, list] = {"anchor": [], "positive": []}
    for j in range(k):
        cols[f"negative_{j + 1}"] = []
    cols["label"] = []
    for anchor, positive, negs in zip(anchors, positives, negatives):
        negs = list(negs or [])
        cols["anchor"].append(anchor)
        cols["positive"].append(positive)
        label = [tid(positive)]
        for j in range(k):
            cols[f"negative_{j + 1}"].append(negs[j] if j < len(negs) else "")
            label.append(tid(negs[j]) if j < len(negs) else -1)
        cols["label"].append(label)
    return cols


def load_steps(path) -> list[list[int]]:
    """Embedsmith's own batch order: one line per optimiser step, row indices into train.jsonl."""
    steps = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                steps.append(json.loads(line)["rows"])
    return steps


class RecipeBatchSampler:
    """Yields, for each step, the global batch cut into one slice per process, in rank order; accelerate's
    shard of the loader hands slice r of every step to rank r. One pass over it is the whole run."""

    def __init__(self, steps: list[list[int]], n_proc: int, per_device: int) -> None:
        self.steps, self.n_proc, self.batch_size, self.drop_last = steps, n_proc, per_device, True

    def set_epoch(self, epoch: int) -> None:  # the order is Embedsmith's plan, whatever the epoch
        pass

    def __len__(self) -> int:
        return len(self.steps) * self.n_proc

    def __iter__(self):
        for rows in self.steps:
            for r in range(self.n_proc):
                yield rows[r * self.batch_size : (r + 1) * self.batch_size]


class RecipeSampling:
    """The trainer's batch_sampler argument: a picklable callable (the training arguments are saved with
    every checkpoint), so it keeps the path, not the steps."""

    def __init__(self, steps_file: str, n_proc: int, per_device: int) -> None:
        self.steps_file, self.n_proc, self.per_device = steps_file, n_proc, per_device

    def __call__(self, dataset, **_kw) -> RecipeBatchSampler:
        return RecipeBatchSampler(load_steps(self.steps_file), self.n_proc, self.per_device)


def truncate_ids(ids: list[int], tok: dict) -> list[int]:
    """Token ids (with the tokenizer's own special tokens) cut as Embedsmith does: with last-token pooling
    the sequence ends with EOS, appended after truncating to maxLength - 1 unless the tokenizer ends with
    it already; otherwise truncation keeps the post-processor's suffix (e.g. [SEP])."""
    n = tok["maxLength"]
    if tok["appendEos"] and not tok["tokenizerAppendsEos"]:
        return ids[: n - 1] + [tok["eosId"]]
    if len(ids) > n:
        keep = min(tok["suffixLength"], n)
        ids = ids[: n - keep] + (ids[len(ids) - keep :] if keep else [])
    return ids


def pad_batch(seqs: list[list[int]], tok: dict) -> dict[str, torch.Tensor]:
    """Padding on the tokenizer's side with its pad id; decoders get position ids cumsum(mask) - 1 (pads
    1), as Embedsmith feeds them."""
    t = max(1, max(len(s) for s in seqs))
    ids = torch.full((len(seqs), t), tok["padId"], dtype=torch.long)
    mask = torch.zeros((len(seqs), t), dtype=torch.long)
    for b, s in enumerate(seqs):
        lo = t - len(s) if tok["paddingSide"] == "left" else 0
        ids[b, lo : lo + len(s)] = torch.tensor(s, dtype=torch.long)
        mask[b, lo : lo + len(s)] = 1
    out = {"input_ids": ids, "attention_mask": mask}
    if tok["positions"] == "cumsum":
        out["position_ids"] = torch.where(mask == 1, mask.cumsum(-1) - 1, torch.ones_like(mask))
    return out


def masked_info_nce(q, cols, ids, scale: float, mini_batch_size: int, gather: bool, with_backward: bool):
    """InfoNCE over the (global) batch with Embedsmith's false-negative masking.

    q: [b, d] this process's query embeddings; cols: the candidate columns, each [b, d] (positives, then
    each negative column); ids: [b, 1 + K] text ids (label column). Candidates of row i: every positive
    of the batch, then every hard negative. A candidate whose text equals row i's positive text, other
    than row i's own positive, is removed from row i's softmax (not pushed away); padded negatives (-1)
    from every row. loss = mean_i [logsumexp_{j allowed} s_ij - s_ii], s = scale * q.c (embeddings
    L2-normalised), in float32. With gather, the candidates of every process are all-gathered (with
    gradients), so each row competes with the whole global batch. Returns (summed loss tensor, mean over
    all processes as a float); with_backward back-propagates chunk by chunk (GradCache's step 2)."""
    b = q.size(0)
    offset = 0
    if gather and world() > 1:
        import torch.distributed.nn as dist_nn

        cols = [torch.cat(dist_nn.all_gather(c)) for c in cols]
        parts = [torch.zeros_like(ids) for _ in range(world())]
        dist.all_gather(parts, ids)
        all_ids = torch.cat(parts)
        offset = rank() * b
    else:
        all_ids = ids
    cand = torch.cat(cols)  # column-major: every positive, then each negative column
    cand_ids = all_ids.T.reshape(-1)
    own_pos = ids[:, 0]
    total = torch.zeros((), device=q.device)
    for lo in range(0, b, mini_batch_size):
        hi = min(b, lo + mini_batch_size)
        rows = torch.arange(hi - lo, device=q.device)
        own = rows + lo + offset
        with torch.autocast(device_type=q.device.type, enabled=False):  # the loss in float32
            s = (q[lo:hi].float() @ cand.float().T) * scale
            drop = (cand_ids[None, :] == own_pos[lo:hi, None]) | (cand_ids[None, :] < 0)
            drop[rows, own] = False
            s = s.masked_fill(drop, float("-inf"))
            part = (torch.logsumexp(s, dim=1) - s[rows, own]).sum() / b
        if with_backward:
            part.backward()
            part = part.detach()
        total = total + part
    mean = total.detach().clone()
    if world() > 1:
        dist.all_reduce(mean)
        mean /= world()
    return total, float(mean)
`;
