import json
import subprocess
import sys


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "redistill", *args], capture_output=True, text=True, env=env)


def test_tasks_show_json_roundtrips_published_layout(benchmarks_dir):
    r = run_cli("tasks", "show", "acre", "--data", str(benchmarks_dir), "--split", "test", "--json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    published = [json.loads(line) for line in (benchmarks_dir / "acre" / "acre_test.jsonl").read_text().splitlines()]
    assert rows == published


def test_tasks_stats_json(benchmarks_dir):
    r = run_cli("tasks", "stats", "scan", "--data", str(benchmarks_dir), "--json")
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["tasks"] == 100 and stats["seen_per_task"]["min"] == 14 and stats["unseen_per_task"]["max"] == 10


def test_bad_input_is_one_clean_line(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"idx": 0, "train": [{"input": "a", "output": "b"}], "test": []}\n{"idx": 1, "train": [\n')
    r = run_cli("tasks", "show", "mine", "--data", str(f), "--answer-type", "list")
    assert r.returncode == 2
    assert "bad.jsonl:2: not valid JSON" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("tasks", "show", "nosuch", "--data", str(tmp_path))
    assert r.returncode == 2 and "unknown suite 'nosuch'" in r.stderr and "Traceback" not in r.stderr
