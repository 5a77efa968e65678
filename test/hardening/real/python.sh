#!/bin/sh
# python3 running an allocation-heavy script (objects, strings, big integers,
# dicts, JSON, threads) under tcarena; its output must match a plain run.
. "$(dirname "$0")/common.sh"
need python3
script=$(dirname "$0")/allocations.py
export PYTHONHASHSEED=0
python3 "$script" >"$scratch/plain"
under_tcarena python3 "$script" >"$scratch/tcarena"
same_output python3 "$scratch/plain" "$scratch/tcarena"
