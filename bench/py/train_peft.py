"""PyTorch side of `npm run bench -- train --shape NAME`: the real transformers model class (Qwen2Model or
MistralModel, eager attention) wrapped by the real peft LoRA (r, alpha, dropout, the 7 linears), on the same
weights (bf16 file read as float32), the same token ids and thread count as our side. It times the two calls
GradCache makes per chunk: a forward without gradients (pass 1) and a forward + backward of <e, g> for a fixed
cached gradient g (pass 2), and reports peak RSS. Prints one JSON line.

Needs Debian's python3-torch and the source trees of transformers 4.40.2, peft 0.10.0, huggingface_hub 0.22.2
and accelerate 0.29.3 (no PyPI here) in the folder EMBEDSMITH_PY_SRC names (each package folder directly
inside it); bench/train-shape.ts says how to get them. safetensors comes from bench/py/safetensors."""
import json
import os
import resource
import sys
import tempfile
import time

VERSIONS = {"transformers": "4.40.2", "peft": "0.10.0", "huggingface_hub": "0.22.2", "accelerate": "0.29.3",
            "safetensors": "0.4.3"}


def setup_path():
    src = os.environ.get("EMBEDSMITH_PY_SRC")
    missing = [p for p in ("transformers", "peft", "huggingface_hub", "accelerate")
               if not src or not os.path.isdir(os.path.join(src, p))]
    if missing:
        print(json.dumps({"error": f"EMBEDSMITH_PY_SRC={src!r} lacks {', '.join(missing)}"}))
        sys.exit(3)
    # importlib.metadata checks versions; plain source trees have no dist-info, so give them one.
    meta = tempfile.mkdtemp(prefix="embedsmith-distinfo-")
    for name, v in VERSIONS.items():
        d = os.path.join(meta, f"{name}-{v}.dist-info")
        os.makedirs(d)
        with open(os.path.join(d, "METADATA"), "w") as f:
            f.write(f"Metadata-Version: 2.1\nName: {name}\nVersion: {v}\n")
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [src, here, meta]


args = json.load(open(sys.argv[1]))
setup_path()
import torch  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(args["threads"])
from peft import LoraConfig, get_peft_model  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
import transformers  # noqa: E402
from transformers.modeling_utils import no_init_weights  # noqa: E402

t0 = time.time()
cfg = json.load(open(os.path.join(args["model"], "config.json")))
Model, Config = {
    "qwen2": (transformers.Qwen2Model, transformers.Qwen2Config),
    "mistral": (transformers.MistralModel, transformers.MistralConfig),
}[cfg["model_type"]]
config = Config(**{k: v for k, v in cfg.items() if k not in ("architectures", "transformers_version")})
config._attn_implementation = "eager"  # torch 1.13: transformers' SDPA path needs torch >= 2.1.1
with no_init_weights():
    model = Model(config)
sd = {k[len("model."):] if k.startswith("model.") else k: v.float() for k, v in
      load_file(os.path.join(args["model"], "model.safetensors")).items()}
model.load_state_dict(sd, strict=True)
del sd
model = get_peft_model(model, LoraConfig(r=args["rank"], lora_alpha=args["alpha"], lora_dropout=args["dropout"],
                                         target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                         "up_proj", "down_proj"]))
# B = 0.01 as our side sets it, so the LoRA branch does real work in the backward.
for n, p in model.named_parameters():
    if "lora_B" in n:
        torch.nn.init.constant_(p, 0.01)
model.train()
ready_s = time.time() - t0
rss_ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

seqs = args["seqs"]
T = max(len(s) for s in seqs)
ids = torch.zeros(len(seqs), T, dtype=torch.long)
mask = torch.zeros(len(seqs), T, dtype=torch.long)
for i, s in enumerate(seqs):
    ids[i, : len(s)] = torch.tensor(s)
    mask[i, : len(s)] = 1
last = mask.sum(1) - 1
g = torch.randn(len(seqs), cfg["hidden_size"], generator=torch.Generator().manual_seed(3))


def embed():
    h = model(input_ids=ids, attention_mask=mask).last_hidden_state
    return torch.nn.functional.normalize(h[torch.arange(len(seqs)), last].float(), dim=-1)


def fwd():
    with torch.no_grad():
        embed()


def fwd_bwd():
    (embed() * g).sum().backward()
    model.zero_grad(set_to_none=True)


def timed(fn, n):
    fn()  # warm-up
    t = time.time()
    for _ in range(n):
        fn()
    return (time.time() - t) / n


iters = args.get("iters", 2)
out = {
    "ready_s": ready_s,
    "forward_s": timed(fwd, iters),
    "fwd_bwd_s": timed(fwd_bwd, iters),
    "rss_ready_mb": rss_ready,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                 "peft": __import__("peft").__version__},
    "tokens": int(mask.sum()),
}
print(json.dumps(out))
