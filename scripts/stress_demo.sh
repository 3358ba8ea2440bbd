#!/usr/bin/env bash
# `make stress-demo`: the stress audit of the shipped model on the shipped test split
# (missing modalities, image corruptions, leakage probes, modality attribution) into reports/stress/.
set -uo pipefail
cd "$(dirname "$0")/.."
FA=.venv/bin/fairaudit
echo "== fairaudit stress: the shipped multimodal model on the shipped test split =="
$FA stress --model sample_data/model --data sample_data/cohort/test.csv --label diagnosis \
    --sensitive sex,race --cluster patient_id --probe --attribution --seed 0 \
    --policy sample_data/stress-policy.toml --out reports/stress
code=$?
case $code in
  0) echo "gate: passed (exit 0)";;
  1) echo "gate: a [[stress]] rule failed (exit 1) - see reports/stress/stress.html";;
  3) echo "gate: inconclusive (exit 3)";;
  *) echo "fairaudit stress failed with exit code $code"; exit "$code";;
esac
echo "outputs: reports/stress/stress.json reports/stress/stress.html"
