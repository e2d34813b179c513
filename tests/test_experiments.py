"""The experiment log (JSON lines) and the ablation table a report needs."""

import json
import math

import pytest
import torch

from helpers.experiments import ExperimentLog, MarkdownTable, ablation_table
from helpers.history import History


def history(*val_accuracies: float) -> History:
    h = History()
    for epoch, accuracy in enumerate(val_accuracies, 1):
        h.append(
            epoch=epoch, train_loss=1.0 / epoch, val_loss=1.0 - accuracy, val_accuracy=accuracy
        )
    return h


@pytest.fixture
def log(tmp_path) -> ExperimentLog:
    log = ExperimentLog(tmp_path / "runs" / "experiments.jsonl")
    log.record(history(0.6, 0.7), run="baseline", config={"lr": 0.1, "augment": False})
    log.record(history(0.65, 0.8, 0.75), run="augment", config={"lr": 0.1, "augment": True})
    log.record(history(0.5), run="lr 0.01", config={"lr": 0.01, "augment": False})
    return log


def table_rows(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in table.splitlines()[2:]]


def test_the_ablation_table_has_one_row_per_logged_run(log):
    """Does each logged run get exactly one row, in logging order, even a repeated name?"""
    log.record(history(0.9), run="augment", config={"lr": 0.1, "augment": True})
    rows = table_rows(ablation_table(log, "val_accuracy"))
    assert [r[0] for r in rows] == ["baseline", "augment", "lr 0.01", "augment"]


def test_each_row_says_the_change_and_the_best_metric(log):
    """Does a row show the config change against the baseline, the best value, the gain and
    the epoch it was reached?"""
    rows = table_rows(ablation_table(log.path, "val_accuracy", digits=2))
    assert rows[0] == ["baseline", "(baseline)", "0.70", "—", "2 of 2"]
    assert rows[1] == ["augment", "augment: False → True", "0.80", "+0.10", "2 of 3"]
    assert rows[2] == ["lr 0.01", "lr: 0.1 → 0.01", "0.50", "-0.20", "1 of 1"]


def test_a_loss_is_minimised_and_another_baseline_can_be_named(log):
    """Does a loss column pick the lowest value, and baseline='augment' compare with it?"""
    rows = table_rows(ablation_table(log, "val_loss", baseline="augment", digits=2))
    assert rows[1][:4] == ["augment", "(baseline)", "0.20", "—"]
    assert rows[0][1:4] == ["augment: True → False", "0.30", "+0.10"]


def test_added_and_removed_settings_are_shown():
    """Does a key the baseline lacks show as '+ key=value' and a dropped one as '− key'?"""
    runs = [
        {"run": "a", "config": {"lr": 0.1, "mixup": 0.2}, "history": [{"epoch": 1, "m": 1.0}]},
        {"run": "b", "config": {"lr": 0.1, "dropout": 0.5}, "history": [{"epoch": 1, "m": 2.0}]},
    ]
    assert table_rows(ablation_table(runs, "m"))[1][1] == "+ dropout=0.5, − mixup"


def test_test_set_results_added_later_are_preferred(log):
    """Do numbers added with add_results (e.g. test accuracy) fill the table, and does a run
    without them show n/a?"""
    log.add_results(test_accuracy=0.55)  # the last run
    log.add_results("baseline", test_accuracy=0.6)
    rows = table_rows(ablation_table(log, "test_accuracy", digits=2))
    assert rows[0][2:] == ["0.60", "—", "—"]
    assert rows[1][2:] == ["n/a", "n/a", "n/a"]
    assert rows[2][2:] == ["0.55", "-0.05", "—"]
    assert len(log) == 3


def test_an_unknown_metric_lists_what_the_runs_have(log):
    """Does asking for a metric no run measured name the columns that exist?"""
    with pytest.raises(ValueError, match=r"No logged run has a number for 'val_map'.*val_accuracy"):
        ablation_table(log, "val_map")


def test_an_empty_log_says_how_to_fill_it(tmp_path):
    """Does an empty log explain that fit(log=...) records runs?"""
    with pytest.raises(ValueError, match=r"no logged runs in .*missing\.jsonl\. Pass log="):
        ablation_table(tmp_path / "missing.jsonl")


def test_an_unknown_baseline_lists_the_runs(log):
    """Does a misspelt baseline name get the list of run names?"""
    with pytest.raises(ValueError, match=r"No run named 'base' .* 'baseline', 'augment'"):
        ablation_table(log, baseline="base")


def test_entries_are_strict_json_lines_and_nan_round_trips(tmp_path):
    """Is each run one strict-JSON line (NaN written as null, tensors as numbers), and does the
    history read back with NaN where it was?"""
    log = ExperimentLog(tmp_path / "e.jsonl")
    h = History()
    h.append(epoch=1, train_loss=0.5, val_loss=math.nan)
    log.record(h, run="r", config={"lr": torch.tensor(0.5), "device": torch.device("cpu")})
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0], parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert entry["config"] == {"lr": 0.5, "device": "cpu"}
    assert entry["history"][0]["val_loss"] is None
    assert entry["best"] is None  # no finite val_loss to pick
    assert math.isnan(log.history("r").epochs[0]["val_loss"])
    assert set(entry) >= {"run", "timestamp", "config", "epochs", "seconds", "best", "final"}


def test_a_corrupt_line_is_skipped_with_a_warning(log):
    """Does a half-written line cost a warning, not the whole log?"""
    with log.path.open("a") as file:
        file.write('{"run": "cut off", "hist\n')
    with pytest.warns(UserWarning, match=r"line 4, is not valid JSON"):
        assert len(log.runs()) == 3


def test_the_table_renders_in_jupyter_and_escapes_pipes():
    """Is the table a str that Jupyter shows as Markdown, with '|' in a name escaped?"""
    runs = [{"run": "a|b", "config": {}, "history": [{"epoch": 1, "val_accuracy": 0.5}]}]
    table = ablation_table(runs)
    assert isinstance(table, MarkdownTable) and isinstance(table, str)
    assert table._repr_markdown_() == str(table)
    assert "| a\\|b |" in table
