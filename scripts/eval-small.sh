#!/usr/bin/env bash
# The answer engine on small first-day knowledge bases (eval/small: written for Tandem), with
# the threshold each learns from its own articles and, beside it, the fixed default.
#   scripts/eval-small.sh [SETS_DIR]    (default: eval/small)
set -euo pipefail
cd "$(dirname "$0")/.."
sets=${1:-eval/small}
cargo build --release -q -p tandem
printf '%-20s %-9s %9s %6s %8s %8s %9s\n' set threshold value top1 in-scope oos-held precision
for set in "$sets"/*/; do
  name=$(basename "$set")
  for threshold in learnt 0.35; do
    flag=()
    [ "$threshold" = learnt ] || flag=(--threshold "$threshold")
    target/release/tandem eval --kb "$set/kb.jsonl" --cases "$set/cases.jsonl" --json "${flag[@]}" |
      python3 -c "import json,sys; d=json.load(sys.stdin); print('%-20s %-9s %9.2f %6s %8s %8s %9s' % ('$name', '$threshold', d['threshold'], d['top1'], d['inscope_acc'], d['oos_recall'], d['answer_precision']))"
  done
done
