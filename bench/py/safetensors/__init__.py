"""A pure-Python stand-in for the `safetensors` package (its compiled core is not installable here): just
what transformers 4.40 and peft 0.10 import, over the documented format (u64 LE header length N, N bytes
of JSON header, raw little-endian data). Used only by bench/py/train_peft.py; written for this repo."""
import json
import struct

class SafetensorError(Exception):
    pass


_DT = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64", "I64": "int64", "I32": "int32",
       "I8": "int8", "U8": "uint8", "BOOL": "bool"}


def _header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), 8 + n


class safe_open:
    """Context manager like safetensors.safe_open(path, framework="pt"): keys(), metadata(), get_tensor()."""

    def __init__(self, path, framework="pt", device="cpu"):
        self._path = path
        self._h, self._start = _header(path)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def keys(self):
        return [k for k in self._h if k != "__metadata__"]

    def metadata(self):
        return self._h.get("__metadata__", {"format": "pt"})

    def get_tensor(self, name):
        import torch

        v = self._h[name]
        s, e = v["data_offsets"]
        with open(self._path, "rb") as f:
            f.seek(self._start + s)
            buf = bytearray(f.read(e - s))
        dt = getattr(torch, _DT[v["dtype"]])
        if e == s:
            return torch.empty(v["shape"], dtype=dt)
        return torch.frombuffer(buf, dtype=dt).reshape(v["shape"])
