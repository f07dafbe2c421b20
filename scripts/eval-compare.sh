#!/usr/bin/env bash
# Tandem's answer engine beside the scikit-learn peer on every evaluation set, in one run.
#   scripts/eval-compare.sh [DATA_DIR]    (default: ../shared/data/eval)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/eval}
python3 -c "import sklearn" 2>/dev/null || python3 -m pip install -q scikit-learn
cargo build --release -q -p tandem
printf '%-14s %-8s %6s %8s %8s %9s %8s %8s\n' set engine top1 in-scope oos-held precision p50_us p99_us
for set in "$data"/*/; do
  name=$(basename "$set")
  target/release/tandem eval --kb "$set/kb.jsonl" --cases "$set/cases.jsonl" --json |
    python3 -c "import json,sys; d=json.load(sys.stdin); print('%-14s %-8s %6s %8s %8s %9s %8s %8s' % ('$name', 'tandem', d['top1'], d['inscope_acc'], d['oos_recall'], d['answer_precision'], d['p50_us'], d['p99_us']))"
  python3 scripts/peer_eval.py "$set" |
    python3 -c "import json,sys; d=json.load(sys.stdin); print('%-14s %-8s %6s %8s %8s %9s %8s %8s' % ('$name', 'sklearn', d['top1'], d['inscope_acc'], d['oos_recall'], d['answer_precision'], '-', '-'))"
done
