#!/usr/bin/env bash
# Regenerate the shipped sample: the validation and test splits of a simulated cohort
# (sample_data/cohort/) and the model trained on its training split (sample_data/model/).
# The training split is written to a temporary folder and not shipped; the cohort is a
# function of the seed, so it is the same split the checkpoint's training-data SHA-256 records.
set -euo pipefail
cd "$(dirname "$0")/.."
FA=${FA:-.venv/bin/fairaudit}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rm -rf sample_data/cohort sample_data/model
$FA sample-data --out sample_data/cohort --patients 4000 --seed 0 --splits validation,test
$FA sample-data --out "$TMP/cohort" --patients 4000 --seed 0
$FA train --data "$TMP/cohort" --out sample_data/model --epochs 40 --seed 0
chmod 644 sample_data/model/*
