"""PyTorch side of bench/train.ts: the same Mistral-architecture model (plain torch, weights read from the same
model.safetensors), the same LoRA (all 7 linears, dropout on the LoRA branch), the same token ids, last-token
pooling, InfoNCE (tau 0.02) over positives + hard negatives, AdamW. Full-batch autograd (PyTorch's usual way).
Prints one JSON line: examples/s, tokens/s, peak RSS."""
import json, math, resource, struct, sys, time

import numpy as np
import torch

args = json.load(open(sys.argv[1]))
torch.manual_seed(0)
torch.set_num_threads(args["threads"])
dev = torch.device(args.get("device", "cpu"))
dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[args.get("dtype", "float32")]


def load_st(f):
    b = open(f, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8 : 8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + s : 8 + n + e], dtype=np.float32).reshape(v["shape"]).copy())
    return out


HF = args.get("impl") == "hf"
cfg = json.load(open(args["model"] + "/config.json"))
W = {k: v.to(dev, dtype) for k, v in load_st(args["model"] + "/model.safetensors").items()}
H, nh, nkv, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["num_hidden_layers"]
hd = H // nh
eps, theta = cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)
r, alpha, p_drop = args["rank"], args["alpha"], args["dropout"]
scaling = alpha / r
mods = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
lora = {}
for i in range(L):
    for m in mods:
        w = W[f"layers.{i}.{m}.weight"]
        a = torch.empty(r, w.shape[1], device=dev).uniform_(-1 / math.sqrt(w.shape[1]), 1 / math.sqrt(w.shape[1]))
        b = torch.randn(w.shape[0], r, device=dev) * 0.01
        lora[f"layers.{i}.{m}"] = (a.requires_grad_(), b.requires_grad_())
params = [t for ab in lora.values() for t in ab]
if HF:
    # GPU path: the real transformers MistralModel wrapped by peft (what users would run).
    from peft import LoraConfig, get_peft_model
    from transformers import MistralModel

    hf = MistralModel.from_pretrained(args["model"], torch_dtype=dtype, attn_implementation="sdpa").to(dev)
    hf = get_peft_model(hf, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=p_drop, target_modules=[m.split(".")[1] for m in mods]))
    params = [t for t in hf.parameters() if t.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.1)


def lin(x, name):
    y = x @ W[name + ".weight"].T
    a, b = lora[name]
    xd = torch.nn.functional.dropout(x.float(), p_drop, training=True)
    return y + ((xd @ a.T) @ b.T * scaling).to(y.dtype)


def rms(x, w):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


def rope(x, cos, sin):
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def encode(ids, mask):
    Bn, T = ids.shape
    if HF:
        hs = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        return torch.nn.functional.normalize(hs[torch.arange(Bn, device=dev), mask.sum(1) - 1].float(), dim=-1)
    x = W["embed_tokens.weight"][ids]
    pos = torch.arange(T, device=dev)
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, device=dev).float() / hd))
    f = torch.outer(pos.float(), inv)
    emb = torch.cat([f, f], -1)
    cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool, device=dev))
    allowed = causal[None, None] & mask[:, None, None, :].bool()
    neg = torch.finfo(torch.float32).min
    for i in range(L):
        p = f"layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"])
        q = lin(h, p + "self_attn.q_proj").view(Bn, T, nh, hd).transpose(1, 2)
        k = lin(h, p + "self_attn.k_proj").view(Bn, T, nkv, hd).transpose(1, 2)
        v = lin(h, p + "self_attn.v_proj").view(Bn, T, nkv, hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        k = k.repeat_interleave(nh // nkv, 1)
        v = v.repeat_interleave(nh // nkv, 1)
        s = (q @ k.transpose(-1, -2)).float() / math.sqrt(hd)
        s = s.masked_fill(~allowed, neg)
        a = torch.softmax(s, -1).to(dtype) @ v
        x = x + lin(a.transpose(1, 2).reshape(Bn, T, H), p + "self_attn.o_proj")
        h = rms(x, W[p + "post_attention_layernorm.weight"])
        x = x + lin(torch.nn.functional.silu(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms(x, W["norm.weight"])
    last = mask.sum(1) - 1
    e = x[torch.arange(Bn, device=dev), last].float()
    return torch.nn.functional.normalize(e, dim=-1)


seqs = args["seqs"]
T = max(len(s) for s in seqs)
ids = torch.zeros(len(seqs), T, dtype=torch.long)
mask = torch.zeros(len(seqs), T, dtype=torch.long)
for i, s in enumerate(seqs):
    ids[i, : len(s)] = torch.tensor(s)
    mask[i, : len(s)] = 1
ids, mask = ids.to(dev), mask.to(dev)
B = args["batch"]
tokens = sum(len(s) for s in seqs)


def step():
    e = encode(ids, mask)
    q, c = e[:B], e[B:]
    scores = q @ c.T / args["temperature"]
    loss = torch.nn.functional.cross_entropy(scores, torch.arange(B, device=dev))
    loss.backward()
    opt.step()
    opt.zero_grad()
    return loss.item()


step()  # warm-up
if dev.type == "cuda":
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
t0 = time.time()
for _ in range(args["steps"]):
    step()
if dev.type == "cuda":
    torch.cuda.synchronize()
dt = (time.time() - t0) / args["steps"]
out = {
    "examples_per_s": B / dt,
    "tokens_per_s": tokens / dt,
    "step_s": dt,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}
if dev.type == "cuda":
    out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
print(json.dumps(out))
