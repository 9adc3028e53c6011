"""PyTorch side of `npm run bench -- gpu`: the same GradCache LoRA step as ours on the same GPU, with the
machine's own torch, transformers and peft (real packages there): AutoModel in bf16 with SDPA attention,
peft LoRA r16 / alpha 32 / dropout 0.1 on the 7 linears, last-token pooling, InfoNCE (tau 0.02) over
positives + hard negatives, pass 1 without gradients, pass 2 chunk by chunk with the cached gradient, AdamW.
Same token ids as ours (passed in). Prints one JSON line: step time, tokens/s, MFU (4 N per token)."""
import json
import sys
import time

import peft
import torch
import transformers

a = json.load(open(sys.argv[1]))
dev = torch.device("cuda")
torch.manual_seed(0)
kw = {"attn_implementation": "sdpa"}
try:
    model = transformers.AutoModel.from_pretrained(a["model"], dtype=torch.bfloat16, **kw)
except TypeError:  # transformers < 4.56 names it torch_dtype
    model = transformers.AutoModel.from_pretrained(a["model"], torch_dtype=torch.bfloat16, **kw)
model = peft.get_peft_model(model.to(dev), peft.LoraConfig(
    r=16, lora_alpha=32, lora_dropout=0.1,
    target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
model.train()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.1)
seqs, B, C = a["seqs"], a["batch"], a["chunk"]


def padded(rows):
    T = max(len(s) for s in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    mask = torch.zeros(len(rows), T, dtype=torch.long)
    for i, s in enumerate(rows):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids.to(dev), mask.to(dev)


chunks = [padded(seqs[i: i + C]) for i in range(0, len(seqs), C)]


def embed(ids, mask):
    h = model(input_ids=ids, attention_mask=mask).last_hidden_state
    return torch.nn.functional.normalize(h[torch.arange(len(ids), device=dev), mask.sum(1) - 1].float(), dim=-1)


def step():
    with torch.no_grad():
        e = torch.cat([embed(*c) for c in chunks])
    e.requires_grad_(True)
    scores = e[:B] @ e[B:].T / 0.02
    loss = torch.nn.functional.cross_entropy(scores, torch.arange(B, device=dev))
    loss.backward()
    g = e.grad
    for k, c in enumerate(chunks):
        (embed(*c) * g[k * C: k * C + len(c[0])]).sum().backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


t = time.time()
step()
torch.cuda.synchronize()
first = time.time() - t
torch.cuda.reset_peak_memory_stats()
t = time.time()
for _ in range(a["steps"]):
    loss = step()
torch.cuda.synchronize()
dt = (time.time() - t) / a["steps"]
tokens = sum(len(s) for s in seqs)
print(json.dumps({
    "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
    "first_step_s": first, "step_s": dt, "tokens": tokens, "tokens_per_s": tokens / dt,
    "mfu": (4 * a["flopParams"] * tokens / dt / a["peak"]) if a.get("peak") else None,
    "loss": loss, "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20,
}))
