"""safetensors.torch stand-in: load_file, save_file, storage_ptr, storage_size (see __init__.py)."""
import json
import struct

from . import safe_open

_CODE = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64", "int64": "I64", "int32": "I32",
         "int8": "I8", "uint8": "U8", "bool": "BOOL"}


def load_file(path, device="cpu"):
    with safe_open(path) as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def save_file(tensors, path, metadata=None):
    header = {"__metadata__": metadata or {"format": "pt"}}
    off, blobs = 0, []
    for k, t in tensors.items():
        b = t.detach().contiguous().cpu().view(-1).view(__import__("torch").uint8).numpy().tobytes()
        header[k] = {"dtype": _CODE[str(t.dtype).split(".")[-1]], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def storage_ptr(t):
    return t.untyped_storage().data_ptr() if hasattr(t, "untyped_storage") else t.storage().data_ptr()


def storage_size(t):
    return t.untyped_storage().nbytes() if hasattr(t, "untyped_storage") else t.storage().size() * t.element_size()
