#!/usr/bin/env bash
# A run's SFT and SFT+ORPO models (search, exact interpreters, the run's eval settings) on a larger
# generated test set than the run's own, drawn like the run's test split (the same seed, held-out
# concepts first, max_seen, max_row), so the run's own test tasks are its first ones. Sizes: SIZES
# (default list_func=90,1d_arc=90,acre=60,scan=30, the README's 270 tasks), else 3x the run's n_test.
#
#   benchmarks/quickstart_bigtest.sh runs/quickstart
#
# Writes RUN/bigtest/<suite>.jsonl and RUN/bigtest/<model>/<suite>/, prints a table per model.
# The quickstart's 78 test tasks leave 1D-ARC with 18 unseen examples (one is 5.6 points); the
# README's levers were compared on a set like this one (270 tasks: 90, 90, 60, 30).
set -euo pipefail
RUN=${1:?usage: quickstart_bigtest.sh RUN_DIR}
SIZES=${SIZES:-list_func=90,1d_arc=90,acre=60,scan=30}
test -f "$RUN/config.json" || { echo "error: $RUN/config.json not found: run \`redistill run\` first" >&2; exit 2; }
mkdir -p "$RUN/bigtest"
# one `tasks generate` command per generated suite, from the run's own config
python3 - "$RUN" "$SIZES" <<'PY' > "$RUN/bigtest/generate.sh"
import json, shlex, sys
run, sizes = sys.argv[1], dict(kv.split("=") for kv in sys.argv[2].split(",") if kv)
cfg = json.load(open(f"{run}/config.json"))
for s in cfg["suites"]:
    if s["source"] != "generate":
        continue
    n = int(sizes.get(s["name"], 3 * s["n_test"]))
    cmd = ["python3", "-m", "redistill", "tasks", "generate", s["name"], "--n", str(n), "--seed", str(s["test_seed"]),
           "--out", f"{run}/bigtest/{s['name']}.jsonl"]
    for key, flag in (("max_seen", "--max-seen"), ("max_row", "--max-row")):
        if s[key] is not None:
            cmd += [flag, str(s[key])]
    if s["holdout"]:
        cmd += ["--first", ",".join(s["holdout"])]
    print(shlex.join(cmd) + " > /dev/null")
PY
bash "$RUN/bigtest/generate.sh"
EVAL=$(python3 -c "import json,sys; c=json.load(open(sys.argv[1])); e=c['eval']; print(f\"--hypotheses {e['hypotheses']} --rule-temperature {e['rule_temperature']} --max-tokens {e['max_tokens'] or 512} --seed {e['seed'] if e.get('seed') is not None else c['seed']}\")" "$RUN/config.json")
for model in sft align; do
  test -d "$RUN/models/$model" || continue
  for f in "$RUN"/bigtest/*.jsonl; do
    s=$(basename "$f" .jsonl)
    # shellcheck disable=SC2086
    python3 -m redistill eval --model "hf:$RUN/models/$model" --suite "$s" --data "$f" --split all --method search \
      --follower library $EVAL --out "$RUN/bigtest/$model/$s" > "$RUN/bigtest/$model.$s.log" 2>&1
  done
  python3 - "$RUN/bigtest/$model" <<'PY'
import json, pathlib, sys
d = pathlib.Path(sys.argv[1])
acc = {p.name: 100 * json.loads((p / "summary.json").read_text())[p.name]["accuracy"] for p in sorted(d.iterdir())}
print(f"{d.name}: " + ", ".join(f"{k} {v:.1f}" for k, v in acc.items()) + f"; mean {sum(acc.values()) / len(acc):.1f}")
PY
done
