#!/usr/bin/env bash
# The GPU check in one go (at most 8 minutes): readies what WebGPU and the CUDA provider need on an NVIDIA
# machine, then runs `bench/gpu.ts` (provider probe, embed parity GPU vs CPU at the 0.6B shape, a LoRA step
# in bf16 (CUDA) / fp16 (WebGPU) with tokens/s and MFU, PyTorch + PEFT on the same GPU). Without a GPU it
# runs the bench's CPU mode and says so.
#   bash native/gpu-check.sh [bench/gpu.ts flags]
#   bash native/gpu-check.sh --prepare-cuda   # where the npm registry is reachable: ORT 1.29.0 + CUDA 13 provider
#
# CUDA provider: onnxruntime-node's installer fetches its CUDA 12 provider from NuGet (native/install-cuda-
# provider.sh). The npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 ships ORT 1.29.0's
# libonnxruntime_providers_cuda.so for CUDA 13; a provider library must match its ORT core exactly and the
# repo has onnxruntime-node 1.30.0, so --prepare-cuda installs onnxruntime-node@1.29.0 beside it in
# native/.cuda-ort (git-ignored; ~400 MB) and copies the provider next to that core. bench/gpu.ts then runs
# its CUDA part on that ORT (native/ort-override.mjs), leaving the installed one alone.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--prepare-cuda" ]]; then
  set -e
  mkdir -p native/.cuda-ort
  # --ignore-scripts: onnxruntime-node's postinstall would try NuGet; the asus4 package has what we need.
  npm install --prefix native/.cuda-ort --no-save --no-package-lock --ignore-scripts \
    onnxruntime-node@1.29.0 com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
  bin=$(ls -d native/.cuda-ort/node_modules/onnxruntime-node/bin/napi-v*/linux/x64 | head -1)
  pkg=native/.cuda-ort/node_modules/com.github.asus4.onnxruntime.linux-x64-gpu
  for lib in libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so; do
    f=$(find "$pkg" -name "$lib" | head -1)
    [[ -n "$f" ]] || { echo "error: $lib not found in $pkg" >&2; exit 1; }
    cp "$f" "$bin/"
  done
  echo "CUDA provider of ORT 1.29.0 ready in $bin; now run: bash native/gpu-check.sh"
  exit 0
fi

# WebGPU on Linux goes through Vulkan: the loader (libvulkan1) plus the driver's ICD file.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  if [[ $(id -u) == 0 ]] && timeout 60 apt-get install -y -qq libvulkan1 >/dev/null 2>&1; then
    echo "installed libvulkan1 (Vulkan loader for WebGPU)"
  else
    echo "note: libvulkan.so.1 missing and apt-get cannot install libvulkan1 here: WebGPU will be skipped" >&2
  fi
fi
# Compute-only containers get the NVIDIA driver's Vulkan library but not always its ICD file.
icd=/usr/share/vulkan/icd.d/nvidia_icd.json
if command -v nvidia-smi >/dev/null && [[ ! -e $icd && ! -e /etc/vulkan/icd.d/nvidia_icd.json ]]; then
  glx=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia.so.0/{print $NF; exit}')
  if [[ -n "$glx" && $(id -u) == 0 ]]; then
    mkdir -p "$(dirname $icd)"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$glx" >"$icd"
    echo "wrote $icd for $glx"
  else
    echo "note: no NVIDIA Vulkan ICD (libGLX_nvidia.so.0 not found): WebGPU may not see the GPU" >&2
  fi
fi
[[ -d native/.cuda-ort/node_modules/onnxruntime-node ]] ||
  echo "note: native/.cuda-ort missing (bash native/gpu-check.sh --prepare-cuda where npm is reachable): the CUDA part uses the installed onnxruntime-node's provider if it has one" >&2

exec timeout --kill-after=10 480 node --import tsx bench/gpu.ts "$@"
