#!/usr/bin/env bash
# Installs onnxruntime-node's CUDA 12 execution provider libraries and proves they load.
#
# The npm package bundles the CPU and WebGPU providers only; the CUDA provider's shared libraries are too
# large for the npm registry, so onnxruntime-node's own installer (script/install.js) downloads them from
# Microsoft's NuGet feed into node_modules/onnxruntime-node/bin/napi-v6/linux/x64/. Embedsmith's .npmrc
# skips that download during `npm ci` (most machines have no NVIDIA GPU); this script runs it on purpose.
#
# Needs: Linux x64, an NVIDIA driver, CUDA 12 runtime + cuDNN 9 libraries on the loader path
# (e.g. `pip install nvidia-cudnn-cu12 nvidia-cublas-cu12` and LD_LIBRARY_PATH, or the CUDA toolkit).
# Usage: npm run cuda:install     (or: bash native/install-cuda-provider.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
  echo "error: onnxruntime-node ships a CUDA provider for linux/x64 only (this is $(uname -s)/$(uname -m))" >&2
  exit 1
fi
if [[ ! -f node_modules/onnxruntime-node/script/install.js ]]; then
  echo "error: node_modules/onnxruntime-node is missing; run \`npm ci\` first" >&2
  exit 1
fi

echo "== GPUs and providers before the install"
node native/probe-gpu.mjs || true

echo "== onnxruntime-node installer (cuda12)"
# ONNXRUNTIME_NODE_INSTALL wins over npm_config_onnxruntime_node_install, which .npmrc sets to "skip"
# when this runs under `npm run`; the flag is passed as well for older installers.
unset npm_config_onnxruntime_node_install
ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install=cuda12

echo "== verify: a one-node session on the cuda provider"
if node native/probe-gpu.mjs --session cuda; then
  echo "CUDA provider ready: train and eval pick it with --device auto (or --device cuda)."
else
  cat >&2 <<'MSG'
error: the CUDA provider libraries are installed but did not load. Usual causes:
  - no NVIDIA driver / GPU visible (nvidia-smi fails)
  - CUDA 12 runtime or cuDNN 9 not on the loader path: export LD_LIBRARY_PATH=/path/to/cuda/lib64:/path/to/cudnn/lib
Run `node native/probe-gpu.mjs --session cuda` again after fixing it.
MSG
  exit 1
fi
