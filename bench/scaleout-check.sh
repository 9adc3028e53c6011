#!/usr/bin/env bash
# The parity check of `embedsmith export trainer` in one call, on a machine with torch + sentence-transformers
# + peft (and this repo's npm dependencies): bash bench/scaleout-check.sh [--fixture mistral|qwen2|bert]
# Prints one JSON line {"bench":"scaleout-check","pass":...,"step1":{"ours","theirs","rel"},...}.
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx bench/scaleout-check.ts "$@"
