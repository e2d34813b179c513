"""The kit picks torch's CPU thread count before the first CPU training, and says so once."""

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from helpers.train import fit, predict
from helpers.train import threads as kit_threads
from helpers.train.threads import configure_cpu_threads, pick_cpu_threads


@pytest.fixture(autouse=True)
def fresh_choice(monkeypatch):
    """Each test starts as a fresh kernel would: no choice made, torch at its default count."""
    before = torch.get_num_threads()
    monkeypatch.setattr(kit_threads, "_chosen", None)
    monkeypatch.setattr(kit_threads, "_TORCH_DEFAULT_THREADS", before)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "KIT_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("available", "physical", "logical", "load", "expected"),
    [
        (2, 2, 2, 0.2, 2),  # idle 2-core machine: one thread per core
        (2, 2, 2, 5.6, 1),  # the shared 2-core machine: two threads would wait for each other
        (2, 2, 2, 1.0, 1),  # one core busy elsewhere
        (4, 2, 4, 0.0, 2),  # hyper-threads do not count
        (2, 8, 8, 0.0, 2),  # a container's or Slurm's share of the cores
        (8, 8, 8, 50.0, 1),  # never zero
    ],
)
def test_pick_cpu_threads(available, physical, logical, load, expected):
    """Does the choice stay within the usable physical cores and the idle ones?"""
    picked = pick_cpu_threads(available=available, physical=physical, logical=logical, load=load)
    assert picked == expected


def test_without_psutil_or_load_average_the_available_cores_count(monkeypatch):
    """Where psutil is missing (the student wheel) and the load is unknown, are the cores this
    process may use the answer?"""
    monkeypatch.setattr(kit_threads, "_physical_cores", lambda: None)
    monkeypatch.setattr(kit_threads, "_load_average", lambda: None)
    assert pick_cpu_threads(available=3, logical=8) == 3


def tiny_fit(**kwargs):
    data = TensorDataset(torch.randn(32, 4), torch.randint(0, 3, (32,)))
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return fit(model, [data[:16], data[16:]], loss_fn=nn.CrossEntropyLoss(),
               optimizer=optimizer, epochs=1, device="cpu", progress=False, **kwargs)  # fmt: skip


def test_first_cpu_fit_sets_the_count_and_says_so_once(monkeypatch, capsys):
    """Does the first CPU `fit` set torch's threads to the kit's pick and print one line, and the
    second `fit` print nothing?"""
    monkeypatch.setattr(kit_threads, "pick_cpu_threads", lambda: 1)
    torch.set_num_threads(2)
    monkeypatch.setattr(kit_threads, "_TORCH_DEFAULT_THREADS", 2)
    tiny_fit()
    first = capsys.readouterr()
    assert torch.get_num_threads() == 1
    lines = [line for line in first.err.splitlines() if "torch thread" in line]
    assert len(lines) == 1, first.err
    assert "running on the CPU with 1 torch thread (" in lines[0]
    assert "KIT_NUM_THREADS" in lines[0]
    tiny_fit()
    assert "torch thread" not in capsys.readouterr().err


def test_predict_alone_sets_the_count(monkeypatch, capsys):
    """Does `predict` on the CPU, with no `fit` before (the grader loads weights and predicts),
    set the kit's count too?"""
    monkeypatch.setattr(kit_threads, "pick_cpu_threads", lambda: 1)
    torch.set_num_threads(2)
    monkeypatch.setattr(kit_threads, "_TORCH_DEFAULT_THREADS", 2)
    predict(nn.Linear(4, 3), [torch.randn(8, 4)], device="cpu", progress=False)
    assert torch.get_num_threads() == 1
    assert "running on the CPU with 1 torch thread" in capsys.readouterr().err


def test_a_count_the_user_set_stands(monkeypatch, capsys):
    """Does a `torch.set_num_threads` call made before `fit` stand, without a message?"""
    monkeypatch.setattr(kit_threads, "pick_cpu_threads", lambda: 1)
    monkeypatch.setattr(kit_threads, "_TORCH_DEFAULT_THREADS", 1)
    torch.set_num_threads(2)
    tiny_fit()
    assert torch.get_num_threads() == 2
    assert "torch thread" not in capsys.readouterr().err


def test_omp_num_threads_stands(monkeypatch, capsys):
    """Does OMP_NUM_THREADS (which torch read at start-up) stand?"""
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(kit_threads, "pick_cpu_threads", lambda: 1)
    torch.set_num_threads(2)
    monkeypatch.setattr(kit_threads, "_TORCH_DEFAULT_THREADS", 2)
    assert configure_cpu_threads(torch.device("cpu")) is None
    assert torch.get_num_threads() == 2
    assert capsys.readouterr().err == ""


def test_kit_num_threads_overrides_the_pick(monkeypatch, capsys):
    """Does KIT_NUM_THREADS=1 give one thread, and a bad value a message that names the fix?"""
    monkeypatch.setenv("KIT_NUM_THREADS", "1")
    assert configure_cpu_threads(torch.device("cpu")) == 1
    assert "as KIT_NUM_THREADS asks" in capsys.readouterr().err
    monkeypatch.setattr(kit_threads, "_chosen", None)
    monkeypatch.setenv("KIT_NUM_THREADS", "two")
    with pytest.raises(ValueError, match=r"KIT_NUM_THREADS='two' is not a thread count"):
        configure_cpu_threads(torch.device("cpu"))


def test_other_devices_leave_the_count_alone(monkeypatch):
    """Does a GPU run leave the CPU thread count (and the later CPU choice) alone?"""
    monkeypatch.setattr(kit_threads, "pick_cpu_threads", lambda: 1)
    torch.set_num_threads(2)
    assert configure_cpu_threads(torch.device("cuda", 0)) is None
    assert torch.get_num_threads() == 2
    assert kit_threads._chosen is None
