"""``benchmarks/manipulators.py``: a resumed benchmark re-judges only the runs that changed,
and its stability table counts a diverged run as failed."""

from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("manipulators_bench",
                                                  ROOT / "benchmarks" / "manipulators.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(folder: Path, judge: str, n: int = 1000, steps: int = 300) -> Path:
    """A run folder whose eval.json (written after its last checkpoint) judged it."""
    (folder / "checkpoints" / "800").mkdir(parents=True)
    old = os.stat(folder / "checkpoints").st_mtime - 10
    for path in (folder / "checkpoints" / "800", folder / "checkpoints"):
        os.utime(path, (old, old))
    report = {"judge": judge, "n": n, "figures": {"attribute_success": 0.9},
              "realism": {"two_sample_accuracy": 0.8, "two_sample_steps": steps}}
    (folder / "eval.json").write_text(json.dumps(report))
    return folder


def test_an_unchanged_run_keeps_its_judgement(bench, tmp_path):
    judge = str(tmp_path / "judge")
    run = _run(tmp_path / "cvae", judge)
    assert bench.judged_before(run, judge, 1000, 300)["figures"]["attribute_success"] == 0.9


def test_the_first_run_of_a_seed_is_judged_by_its_own_judge(bench, tmp_path):
    run = _run(tmp_path / "manipulator", str(tmp_path / "manipulator" / "judge"))
    assert bench.judged_before(run, None, 1000, 300) is not None
    assert bench.judged_before(run, str(tmp_path / "other"), 1000, 300) is None


@pytest.mark.parametrize("change", ["judge", "n", "realism_steps", "trained", "unreadable"])
def test_anything_changed_is_judged_again(bench, tmp_path, change):
    judge = str(tmp_path / "judge")
    run = _run(tmp_path / "cgan", judge)
    args = {"judge": judge, "n": 1000, "realism_steps": 300}
    if change == "judge":
        args["judge"] = str(tmp_path / "another_judge")
    elif change in ("n", "realism_steps"):
        args[change] = 200
    elif change == "trained":  # a resume wrote a newer checkpoint
        (run / "checkpoints" / "1000").mkdir()
        later = os.stat(run / "eval.json").st_mtime + 10
        os.utime(run / "checkpoints", (later, later))
    else:
        (run / "eval.json").write_text("{not json")
    assert bench.judged_before(run, args["judge"], args["n"], args["realism_steps"]) is None


def test_a_diverged_or_collapsed_seed_counts_as_failed(bench):
    runs = [{"attribute_success": 0.99, "getput_mse": 0.01, "chance": 0.1},
            {"attribute_success": math.nan, "getput_mse": 0.01, "chance": 0.1},
            {"attribute_success": 0.003, "getput_mse": 0.01, "chance": 0.1},  # the identity
            {"attribute_success": 0.11, "getput_mse": 0.01, "chance": 0.1}]
    assert [bench.diverged(r) for r in runs] == [False, True, False, False]
    assert [bench.collapsed(r) for r in runs] == [False, False, True, False]
    header, _, *rows = bench.stability_table({"mnist": {"cgan": runs}}).splitlines()
    assert rows[-1].startswith("| mnist | cgan | yes | 4 | 1 | 1 |")
    assert "0.368 ± 0.442" in rows[-1]  # the mean and spread of the finite figures only
    # Every figure the runs have gets a column, and none they lack.
    assert "getput_mse" in header and "kept_attributes" not in header


def test_the_stability_table_spreads_every_figure_the_runs_have(bench):
    runs = [{"attribute_success": 0.8, "kept_attributes": 0.9, "counterfactual_mse": 0.01,
             "train_seconds": 100.0, "chance": 1 / 6},
            {"attribute_success": 0.6, "kept_attributes": 0.7, "counterfactual_mse": 0.03,
             "train_seconds": 300.0, "chance": 1 / 6}]
    header, _, row = bench.stability_table({"sprites": {"manipulator": runs}}).splitlines()
    columns = [c.strip() for c in header.strip("|").split("|")]
    cells = dict(zip(columns, (c.strip() for c in row.strip("|").split("|")), strict=True))
    assert cells["attribute_success"] == "0.700 ± 0.100"
    assert cells["kept_attributes"] == "0.800 ± 0.100"
    assert cells["counterfactual_mse"] == "0.0200 ± 0.0100"
    assert "train_seconds" not in cells and "bleu" not in cells
