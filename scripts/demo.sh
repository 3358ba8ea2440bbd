#!/usr/bin/env bash
# `make demo`: audit the shipped model on the shipped test split; every output goes under reports/.
# (Any model's predictions are audited the same way: --predictions sample_data/predictions.csv.)
set -uo pipefail
cd "$(dirname "$0")/.."
FA=.venv/bin/fairaudit
mkdir -p reports

echo "== fairaudit audit: the shipped multimodal model on the shipped test split =="
$FA audit --model sample_data/model --data sample_data/cohort/test.csv --label diagnosis \
    --sensitive sex,race --cluster patient_id --seed 0 \
    --policy sample_data/policy.toml \
    --format json --output reports/audit.json \
    --html reports/audit.html --junit reports/gate.xml \
    --save-predictions reports/predictions.csv
code=$?
case $code in 0|1|3) ;; *) echo "fairaudit failed with exit code $code"; exit "$code";; esac
$FA report reports/audit.json --format markdown --out reports/audit.md 2>/dev/null
$FA report reports/audit.json --format table
case $code in
  0) echo "gate: passed (exit 0)";;
  1) echo "gate: policy failed (exit 1) - see reports/audit.html";;
  3) echo "gate: inconclusive (exit 3) - not enough evidence to decide some rules";;
esac
echo "outputs: reports/audit.json reports/audit.html reports/audit.md reports/gate.xml reports/predictions.csv"
