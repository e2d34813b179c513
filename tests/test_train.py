"""fit, evaluate, predict, seeding and device choice, on tiny models and data on the CPU."""

import math
import sys

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from helpers.experiments import ExperimentLog, ablation_table
from helpers.history import History
from helpers.train import (
    Metric,
    evaluate,
    fit,
    pick_device,
    predict,
    progress_enabled,
    seed_everything,
)
from helpers.train.batches import _to_device

CENTRES = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])


def blobs(n: int, seed: int, *, shift_labels: bool = False) -> TensorDataset:
    """Three Gaussian blobs in 4-D: x float32 (n, 4), y int64 (n,) in {0, 1, 2}.
    ``shift_labels`` relabels class c as c+1, so a model that learns the training set gets this
    set ever more wrong: its loss rises while training improves (an early-stopping case)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = CENTRES[y] + 0.7 * torch.randn(n, 4, generator=g)
    return TensorDataset(x, (y + 1) % 3 if shift_labels else y)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


class Accuracy:
    """A streaming metric with the shape fit expects (reset / update / compute)."""

    def reset(self) -> None:
        self.correct, self.total = 0, 0

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.correct += int((outputs.argmax(1) == targets).sum())
        self.total += len(targets)

    def compute(self) -> float:
        return self.correct / self.total


def train_once(seed: int, epochs: int = 3, **kwargs) -> tuple[nn.Module, History]:
    seed_everything(seed)
    model = mlp()
    train = DataLoader(blobs(96, 0), batch_size=16, shuffle=True)
    val = DataLoader(blobs(48, 1), batch_size=16)
    history = fit(
        model,
        train,
        val,
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=epochs,
        metrics={"accuracy": Accuracy()},
        **kwargs,
    )
    return model, history


def test_test_metric_fits_the_protocol():
    """Is the test's metric what fit's Metric protocol describes?"""
    assert isinstance(Accuracy(), Metric)


def test_small_fit_lowers_the_loss_and_learns():
    """Does a small fit lower the training loss and beat chance on held-out data?"""
    _, history = train_once(0, epochs=5)
    assert len(history) == 5
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["val_accuracy"][-1] > 0.8  # chance is 1/3
    assert set(history.columns) >= {
        "epoch",
        "train_loss",
        "val_loss",
        "train_accuracy",
        "val_accuracy",
        "lr",
        "seconds",
    }


def test_same_seed_gives_the_same_history_on_the_cpu():
    """Does the same seed give the same history (shuffling and initialisation included), and a
    different seed a different one?"""

    def numbers(history: History) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    _, first = train_once(7)
    _, again = train_once(7)
    _, other = train_once(8)
    assert numbers(first) == numbers(again)
    assert numbers(first) != numbers(other)


def early_stopping_case(tmp_path, **kwargs):
    seed_everything(0)
    model = mlp()
    # Validation labels are shifted, so the validation loss rises as training succeeds.
    train = DataLoader(blobs(96, 0), batch_size=16, shuffle=True)
    val = DataLoader(blobs(48, 1, shift_labels=True), batch_size=48)
    history = fit(
        model,
        train,
        val,
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=20,
        checkpoint_path=tmp_path / "best.pt",
        **kwargs,
    )
    return model, val, history


def test_early_stopping_stops_patience_epochs_after_the_best(tmp_path):
    """Does training stop `patience` epochs after the best validation loss, long before 20?"""
    _, _, history = early_stopping_case(tmp_path, patience=2)
    best_epoch = history.best("val_loss")["epoch"]
    assert len(history) == best_epoch + 2
    assert len(history) < 20


def test_restoring_the_best_checkpoint_reproduces_its_predictions(tmp_path):
    """After fit, does the model hold the best epoch's weights (its validation loss is the best
    row's, not the last one's), and does the saved checkpoint give the same predictions?"""
    model, val, history = early_stopping_case(tmp_path, patience=3)
    best, last = history.best("val_loss"), history.epochs[-1]
    assert best["epoch"] < last["epoch"]
    measured = evaluate(model, val, loss_fn=nn.CrossEntropyLoss())["loss"]
    assert measured == pytest.approx(best["val_loss"], rel=1e-6)
    assert measured != pytest.approx(last["val_loss"], rel=1e-3)

    reloaded = mlp()
    reloaded.load_state_dict(torch.load(tmp_path / "best.pt", weights_only=True))
    assert torch.equal(predict(model, val), predict(reloaded, val))


def test_restore_best_false_keeps_the_last_weights(tmp_path):
    """With restore_best=False, are the weights the last epoch's?"""
    model, val, history = early_stopping_case(tmp_path, patience=3, restore_best=False)
    measured = evaluate(model, val, loss_fn=nn.CrossEntropyLoss())["loss"]
    assert measured == pytest.approx(history.epochs[-1]["val_loss"], rel=1e-6)


def test_early_stopping_on_a_metric_maximises_it(tmp_path):
    """Does monitor='val_accuracy' treat higher as better (mode inferred like History.best)?"""

    class Stuck(Accuracy):
        """Accuracy that never improves after the first epoch."""

        calls = 0

        def compute(self) -> float:
            Stuck.calls += 1
            return 0.5 if Stuck.calls <= 2 else 0.4  # epoch 1's train and val, then lower

    seed_everything(0)
    model = mlp()
    history = fit(
        model,
        DataLoader(blobs(32, 0), batch_size=16),
        DataLoader(blobs(32, 1), batch_size=16),
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=10,
        metrics={"accuracy": Stuck()},
        monitor="val_accuracy",
        patience=2,
    )
    assert len(history) == 3
    assert history.best("val_accuracy")["epoch"] == 1


def test_a_monitor_typo_fails_before_any_training():
    """Does a misspelt monitor column raise at once, listing the columns fit will record?"""
    model = mlp()
    with pytest.raises(ValueError, match=r"monitor='val_acc'.*records only: train_loss, val_loss"):
        fit(
            model,
            DataLoader(blobs(16, 0), batch_size=8),
            DataLoader(blobs(16, 1), batch_size=8),
            loss_fn=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=1,
            monitor="val_acc",
        )


def test_without_validation_data_train_loss_is_watched():
    """Without val_data, does fit still train, record train columns only and stop on
    train_loss?"""
    seed_everything(0)
    model = mlp()
    history = fit(
        model,
        DataLoader(blobs(32, 0), batch_size=16),
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=2,
        patience=1,
        metrics={"accuracy": Accuracy()},
    )
    assert history.columns == ["epoch", "train_loss", "train_accuracy", "lr", "seconds"]


def test_any_iterable_of_batches_works():
    """Does fit accept a plain list of (inputs, targets) batches, not only a DataLoader?"""
    data = blobs(64, 0)
    batches = [(data.tensors[0][i : i + 16], data.tensors[1][i : i + 16]) for i in range(0, 64, 16)]
    seed_everything(0)
    model = mlp()
    history = fit(
        model,
        batches,
        batches,
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.2),
        epochs=3,
    )
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_the_kits_in_memory_loader_works():
    """Does fit take helpers.data's InMemoryLoader (batches already on the device)?"""
    loader_module = pytest.importorskip("helpers.data.loader")
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (60,), generator=g)
    images = (labels[:, None, None] * 80 + torch.randint(0, 40, (60, 6, 6), generator=g)).to(
        torch.uint8
    )
    loader = loader_module.InMemoryLoader(
        images, labels, batch_size=20, device="cpu", mean=(0.4,), std=(0.25,)
    )
    seed_everything(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 3))
    history = fit(
        model,
        loader,
        loader,
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=torch.optim.Adam(model.parameters(), lr=0.1),
        epochs=10,
        metrics={"accuracy": Accuracy()},
    )
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_accuracy"][-1] > 0.9


def test_a_batch_that_is_not_a_pair_is_explained():
    """Does a batch of three items get an error saying what a batch must be?"""
    x, y = blobs(8, 0).tensors
    model = mlp()
    with pytest.raises(TypeError, match=r"pair \(inputs, targets\), got a tuple of length 3"):
        fit(
            model,
            [(x, y, y)],
            loss_fn=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=1,
        )


def test_a_loss_without_reduction_is_explained():
    """Does a per-sample loss (reduction='none') get an error naming the fix?"""
    model = mlp()
    with pytest.raises(ValueError, match=r"got \(16,\)\. Use a loss with reduction='mean'"):
        fit(
            model,
            DataLoader(blobs(16, 0), batch_size=16),
            loss_fn=nn.CrossEntropyLoss(reduction="none"),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=1,
        )


def test_a_generator_read_twice_is_explained():
    """Does a one-shot generator as training data get an error on the second epoch?"""
    x, y = blobs(16, 0).tensors
    model = mlp()
    with pytest.raises(ValueError, match="A generator can be read only once"):
        fit(
            model,
            ((x[i : i + 8], y[i : i + 8]) for i in (0, 8)),
            loss_fn=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=2,
        )


def test_metrics_must_be_named():
    """Does a list of metrics (not a dict) get an error showing the expected form?"""
    model = mlp()
    with pytest.raises(TypeError, match=r"metrics must be a dict of name -> metric"):
        fit(
            model,
            DataLoader(blobs(16, 0), batch_size=16),
            loss_fn=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=1,
            metrics=[Accuracy()],
        )


def test_dict_metrics_become_columns_and_vectors_warn():
    """Does a metric returning a dict give one column per number, and a per-class vector a
    warning instead of a crash?"""

    class Summary(Accuracy):
        def compute(self):
            return {"acc": self.correct / self.total, "per_class": torch.zeros(3)}

    class PerClass(Accuracy):
        def compute(self):
            return torch.zeros(3)

    model = mlp()
    with pytest.warns(UserWarning, match="Metric 'per_class' returned a Tensor"):
        history = fit(
            model,
            DataLoader(blobs(16, 0), batch_size=16),
            DataLoader(blobs(16, 1), batch_size=16),
            loss_fn=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=2,
            metrics={"summary": Summary(), "per_class": PerClass()},
            train_metrics=False,
        )
    assert "val_summary_acc" in history.columns
    assert not any("per_class" in c for c in history.columns)


def test_a_diverging_loss_stops_with_a_warning():
    """Does a NaN training loss stop training with advice instead of running all epochs?"""

    def broken_loss(outputs, targets):
        return nn.functional.cross_entropy(outputs, targets) * math.nan

    model = mlp()
    with pytest.warns(UserWarning, match=r"training loss became nan at epoch 1.*ten times smaller"):
        history = fit(
            model,
            DataLoader(blobs(16, 0), batch_size=8),
            loss_fn=broken_loss,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=5,
        )
    assert len(history) == 1


def test_schedulers_step_per_epoch_or_per_batch():
    """Does an epoch scheduler change the learning rate once an epoch, a batch one once a
    batch, and does the history record the rate each epoch used?"""
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(
        model,
        DataLoader(blobs(32, 0), batch_size=16),
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=optimizer,
        epochs=3,
        scheduler=torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5),
    )
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025])

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(
        model,
        DataLoader(blobs(32, 0), batch_size=16),  # 2 batches an epoch
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=optimizer,
        epochs=2,
        scheduler=torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5),
        scheduler_step="batch",
    )
    assert history["lr"] == pytest.approx([0.1, 0.025])

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.1)
    fit(
        model,
        DataLoader(blobs(32, 0), batch_size=16),
        DataLoader(blobs(32, 1, shift_labels=True), batch_size=32),  # val loss rises
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=optimizer,
        epochs=3,
        scheduler=plateau,
    )
    assert optimizer.param_groups[0]["lr"] < 0.1


def test_predict_returns_scores_in_order_for_any_batch_form():
    """Does predict give the model's outputs for every sample in order, from (x, y) pairs,
    [x] lists and bare tensors, with the targets when asked, leaving the mode unchanged?"""
    seed_everything(0)
    model = mlp().train()
    x, y = blobs(20, 0).tensors
    expected = model(x).detach()
    pairs = DataLoader(TensorDataset(x, y), batch_size=6)
    scores, targets = predict(model, pairs, return_targets=True)
    assert scores.shape == (20, 3) and scores.dtype == torch.float32
    assert torch.allclose(scores, expected, atol=1e-6)
    assert torch.equal(targets, y)
    assert torch.allclose(predict(model, DataLoader(TensorDataset(x), batch_size=6)), expected)
    assert torch.allclose(predict(model, [x[:10], x[10:]]), expected)
    assert torch.equal(predict(model, pairs, postprocess=lambda s: s.argmax(1)), expected.argmax(1))
    assert model.training


def test_evaluate_measures_loss_and_metrics():
    """Does evaluate give the mean per-sample loss and the metric over the whole set?"""
    seed_everything(0)
    model = mlp()
    x, y = blobs(30, 0).tensors
    loader = DataLoader(TensorDataset(x, y), batch_size=7)  # uneven last batch
    result = evaluate(model, loader, loss_fn=nn.CrossEntropyLoss(), metrics={"acc": Accuracy()})
    with torch.no_grad():
        outputs = model(x)
    assert result["loss"] == pytest.approx(nn.functional.cross_entropy(outputs, y).item(), 1e-5)
    assert result["acc"] == pytest.approx((outputs.argmax(1) == y).float().mean().item())


def test_fit_logs_each_run_for_the_ablation_table(tmp_path):
    """Does fit append one entry per run (config, best and final rows, epochs, device, time),
    and does the ablation table then have one row per run?"""
    path = tmp_path / "experiments.jsonl"
    for lr in (0.1, 0.01):
        seed_everything(0)
        model = mlp()
        fit(
            model,
            DataLoader(blobs(32, 0), batch_size=16),
            DataLoader(blobs(32, 1), batch_size=16),
            loss_fn=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=lr),
            epochs=2,
            metrics={"accuracy": Accuracy()},
            log=path,
            run_name=f"lr {lr}",
            config={"lr": lr, "epochs": 2},
        )
    runs = ExperimentLog(path).runs()
    assert [r["run"] for r in runs] == ["lr 0.1", "lr 0.01"]
    first = runs[0]
    assert first["config"] == {"lr": 0.1, "epochs": 2}
    assert first["epochs"] == 2 and first["device"] == "cpu" and first["seconds"] > 0
    assert first["best"] == min(first["history"], key=lambda r: r["val_loss"])
    assert first["final"] == first["history"][-1]
    assert first["setup"]["optimizer"] == "SGD" and first["setup"]["batch_size"] == 16
    table = ablation_table(path, "val_accuracy").splitlines()
    assert len(table) == 2 + 2
    assert "lr: 0.1 → 0.01" in table[3]


def test_progress_bars_are_quiet_under_the_autograder(monkeypatch, capsys):
    """With KIT_GRADING=1, do bars stay off even when asked for, and without it do they show
    when asked for?"""
    monkeypatch.delenv("KIT_GRADING", raising=False)
    assert progress_enabled(True) is True
    assert progress_enabled(None) is False  # pytest captures stderr: not a terminal

    def run(progress):
        model = mlp()
        fit(
            model,
            DataLoader(blobs(16, 0), batch_size=8),
            loss_fn=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=2,
            progress=progress,
        )
        return capsys.readouterr().err

    assert "fit" in run(True)
    monkeypatch.setenv("KIT_GRADING", "1")
    assert progress_enabled(True) is False
    assert run(True) == ""


def test_pick_device_checks_what_it_is_asked_for():
    """Does pick_device return the CPU when asked, and explain a missing GPU?"""
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device().type in {"cuda", "mps", "cpu"}
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match=r"Device 'cuda' was asked for.*pick_device\(\)"):
            pick_device("cuda")
    with pytest.raises(RuntimeError, match="'gpu' is not a device name"):
        pick_device("gpu")


def test_batches_already_on_the_device_are_not_copied():
    """Is a batch already on the device passed through as is (no copy per batch)?"""
    x = torch.zeros(2, 3)
    nested = {"image": x, "extra": [x]}
    assert _to_device(x, torch.device("cpu")) is x
    moved = _to_device(nested, torch.device("cpu"))
    assert moved["image"] is x and moved["extra"][0] is x


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_mixed_precision_on_cuda_trains_and_predicts_float32():
    """On a GPU, does fit train under autocast and predict return float32 scores?"""
    seed_everything(0)
    model = mlp()
    history = fit(
        model,
        DataLoader(blobs(96, 0), batch_size=16),
        DataLoader(blobs(48, 1), batch_size=16),
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=3,
        device="cuda",
    )
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert predict(model, DataLoader(blobs(8, 2), batch_size=4)).dtype == torch.float32


def test_seeding_reaches_python_and_numpy():
    """Does seed_everything also fix Python's and NumPy's random numbers?"""
    import random

    import numpy as np

    seed_everything(3)
    a = (random.random(), np.random.rand())
    seed_everything(3)
    assert a == (random.random(), np.random.rand())
    assert "numpy" in sys.modules
