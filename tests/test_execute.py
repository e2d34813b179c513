"""The execution stage: papermill in a sandboxed kernel, against bad and hostile notebooks.

Every fixture in tests/fixtures/execute/ has the same frame: a markdown cell, the ``parameters``
cell, ``state = 41``, the case's cell(s), and a last cell printing ``after: 42``. Executed, the
notebook gains papermill's injected-parameters cell at index 2, so ``state`` is cell 3 and the
case's first cell is cell 4 (the student's "cell 4" too: notices count the input notebook).

The isolated tests need root (these machines and CI run as root); they are skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path
from queue import Empty

import nbformat
import psutil
import pytest

from autograder import sandbox
from autograder.execute import (
    MAX_MESSAGE_BYTES,
    ExecutionResult,
    KernelStartError,
    Limits,
    _BoundedChannel,
    _BoundedKernelClient,
    _GraderKernelManager,
    _OutputBudget,
    _receive_bound_mb,
    execute_notebook,
)
from autograder.sandbox import IsolationUnavailableError, check_hidden_paths, plan_isolation

FIXTURES = Path(__file__).parent / "fixtures" / "execute"
USER = sandbox.DEFAULT_KERNEL_USER
AFTER = "after: 42\n"
#: Small limits so that the whole file runs in a couple of minutes.
FAST = Limits(
    cell_timeout_s=3,
    total_timeout_s=60,
    interrupt_grace_s=1,
    memory_mb=1024,
    max_processes=64,
    max_restarts=3,
)
#: Seconds allowed above a limit: a kernel start and nbclient's one-second liveness poll.
MARGIN_S = 8

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root")


def load(case: str) -> nbformat.NotebookNode:
    return nbformat.read(FIXTURES / f"{case}.ipynb", as_version=4)


def run(case: str, tmp_path: Path, limits: Limits = FAST, **kwargs) -> ExecutionResult:
    """Execute fixture ``case`` in a fresh working directory; check nothing is left running."""
    workdir = kwargs.pop("workdir", tmp_path / "work")
    workdir.mkdir(exist_ok=True)
    parameters = {"GRADING": True, **kwargs.pop("parameters", {})}
    result = execute_notebook(
        load(case), workdir=workdir, parameters=parameters, limits=limits, **kwargs
    )
    assert kernel_user_processes() == [], "a process of the kernel user survived"
    return result


def kernel_user_processes() -> list[psutil.Process]:
    try:
        uid = pwd.getpwnam(USER).pw_uid
    except KeyError:
        return []
    return [
        p
        for p in psutil.process_iter(["uids", "status"])
        if p.info["uids"].real == uid and p.info["status"] != psutil.STATUS_ZOMBIE
    ]


def text(result: ExecutionResult, index: int) -> str:
    """Everything cell ``index`` printed (streams and plain-text displays)."""
    cell = result.notebook.cells[index]
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(str(out.data.get("text/plain", "")))
    return "".join(parts)


def last(result: ExecutionResult) -> str:
    return text(result, len(result.notebook.cells) - 1)


# ------------------------------------------------------------------------------ without a kernel
def test_limits_refuse_a_zero_timeout():
    """Does a zero cell timeout get a message that names the field and the value?"""
    with pytest.raises(ValueError, match=r"Limits.cell_timeout_s must be a positive number .* 0"):
        Limits(cell_timeout_s=0)
    with pytest.raises(ValueError, match=r"Limits.memory_mb must be a positive int or None"):
        Limits(memory_mb=-1)


def test_output_budget_keeps_the_head_and_counts_the_rest():
    """Is a stream over the per-cell cap cut to the cap, with the rest counted for the note?"""
    budget = _OutputBudget(per_cell_chars=10, total_chars=1000)
    msg = {"msg_type": "stream", "content": {"name": "stdout", "text": "abcdefghijklmno"}}
    kept = budget.admit(5, msg)
    assert kept["content"]["text"] == "abcdefghij"
    assert budget.admit(5, msg) is None
    assert budget.cut_chars[5] == 5 + 15
    assert "20 characters of output not kept" in budget.note(5)
    assert budget.note(6) is None


def test_every_channel_the_grader_reads_drops_a_message_over_the_cap_in_many_frames(tmp_path):
    """Is a message whose frames are each under the cap but together over it dropped, on every
    channel the grader reads, while the next message and one of several small frames arrive?"""
    import zmq
    import zmq.asyncio
    from jupyter_client.session import Session

    assert _GraderKernelManager().client_factory is _BoundedKernelClient
    for channel in ("shell", "iopub", "stdin", "control"):
        assert getattr(_BoundedKernelClient, f"{channel}_channel_class").default_value is (
            _BoundedChannel
        )

    session, address = Session(key=b"secret"), f"ipc://{tmp_path}/channel"
    part = b"x" * (MAX_MESSAGE_BYTES // 4)  # 8 MiB: far under ZeroMQ's per-frame limit

    async def receive() -> tuple[list[str], int]:
        sender = zmq.Context().socket(zmq.PUSH)
        sender.bind(address)
        context = zmq.asyncio.Context()
        receiver = context.socket(zmq.PULL)
        receiver.connect(address)
        channel = _BoundedChannel(receiver, session)
        try:
            for text, frames in (("too big", 5), ("small parts", 3), ("plain", 0)):
                session.send(sender, "stream", {"name": "stdout", "text": text},
                             buffers=[part] * frames)  # fmt: skip
            texts = [(await channel.get_msg(timeout=5))["content"]["text"] for _ in range(2)]
            with pytest.raises(Empty):
                await channel.get_msg(timeout=0.1)
            return texts, channel.take_dropped()
        finally:
            sender.close(linger=0)
            channel.close()
            context.destroy(linger=0)

    texts, dropped = asyncio.run(receive())
    assert texts == ["small parts", "plain"]
    assert dropped == 1


def test_output_budget_gives_back_what_a_clear_removes():
    """Does a cell that redraws itself (clear_output) keep its latest frame under the cap?"""
    budget = _OutputBudget(per_cell_chars=100, total_chars=150)
    frame = {"msg_type": "display_data", "content": {"data": {"image/png": "x" * 120}}}
    for _ in range(5):
        assert budget.admit(1, frame) is not None
        budget.cleared(1)
    assert budget.admit(1, frame) is not None
    assert budget.admit(1, frame) is None  # a second frame without a clear passes the total
    assert budget.cut_displays[1] == 1


def test_error_outputs_are_always_kept():
    """Is an error kept (shortened) even when the cell's text budget is spent?"""
    budget = _OutputBudget(per_cell_chars=10, total_chars=1000)
    budget.admit(2, {"msg_type": "stream", "content": {"name": "stdout", "text": "x" * 50}})
    error = {
        "msg_type": "error",
        "content": {"ename": "ValueError", "evalue": "v" * 5000, "traceback": ["t" * 100] * 100},
    }
    kept = budget.admit(2, error)
    assert kept["content"]["ename"] == "ValueError"
    assert len(kept["content"]["evalue"]) == 2000
    assert kept["content"]["traceback"] == ["[... rest of the traceback cut ...]"]


def test_hiding_the_kernels_python_is_refused():
    """Is a hide path that holds the kernel's Python refused with a clear message?"""
    venv = Path(os.sys.prefix)
    with pytest.raises(ValueError, match=r"Cannot hide .*: the kernel needs .* Hide a narrower"):
        check_hidden_paths([venv])


def test_required_isolation_without_root_is_an_error(monkeypatch):
    """Does isolate=True without root say what is wrong and what to do?"""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(IsolationUnavailableError, match=r"not running as root .* isolate=None"):
        plan_isolation(True)
    assert plan_isolation(None).describe() == "isolation is off: not running as root"


# -------------------------------------------------------------------------------- with a kernel
@needs_root
def test_a_well_behaved_notebook_runs_isolated(tmp_path):
    """Does a normal notebook run as the kernel user, read its files and write its outputs?"""
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "answers.txt").write_text("a b c\n")
    output_dir = workdir / "out"
    executed = tmp_path / "results" / "executed.ipynb"
    os.environ["SECRET_GRADER_TOKEN"] = "do-not-leak"
    try:
        result = run(
            "well-behaved",
            tmp_path,
            parameters={"OUTPUT_DIR": output_dir},
            kernel_env={"KIT_EXTRA": "1"},
            output_path=executed,
        )
    finally:
        del os.environ["SECRET_GRADER_TOKEN"]
    uid = pwd.getpwnam(USER).pw_uid
    assert result.isolation.enabled and result.isolation.network_off
    assert result.isolation.describe().startswith(f"isolation is on: kernel runs as user '{USER}'")
    assert f"uid {uid} answers ['a', 'b', 'c']" in text(result, 4)
    assert (output_dir / "predictions.csv").read_text() == "id,label\n0,3\n"
    assert "to stderr" in text(result, 6)
    assert "['KIT_EXTRA']" in text(result, 6)  # the grader's own environment is not passed on
    assert result.failures == {} and result.notices == () and result.not_run == {}
    assert last(result) == AFTER
    assert len(result.kernel_start_s) == 1 and result.restarts == 0
    assert stat.S_IMODE(executed.stat().st_mode) == 0o600
    assert nbformat.read(executed, as_version=4).cells[-1].outputs[0].text == AFTER


@needs_root
def test_submitted_files_named_like_libraries_do_not_break_the_kernel(tmp_path):
    """Does a submitted zmq.py leave the kernel's start alone, while the notebook can still
    import the student's own modules from its folder?"""
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "zmq.py").write_text("raise ImportError('the student zmq.py was imported')\n")
    (workdir / "mymodule.py").write_text("VALUE = 7\n")
    result = run("shadowing-modules", tmp_path)
    assert text(result, 4) == "mymodule says 7\n"
    assert last(result) == AFTER


@needs_root
def test_a_raising_cell_does_not_stop_the_next(tmp_path):
    """Is a raising cell a structured failure, with the cells after it run normally?"""
    result = run("raises", tmp_path)
    failure = result.failures[4]
    assert (failure.ename, failure.evalue) == ("ValueError", "expected shape (3, 4), got (4, 3)")
    assert "\x1b[" not in failure.traceback_text and "ValueError" in failure.traceback_text
    assert list(result.failures) == [4]
    assert last(result) == AFTER
    assert not result.kernel_died


@needs_root
@pytest.mark.slow
def test_an_endless_loop_is_interrupted(tmp_path):
    """Is a cell past its time limit stopped, with the next cells run in the same kernel?"""
    began = time.monotonic()
    result = run("endless-loop", tmp_path)
    assert time.monotonic() - began < FAST.cell_timeout_s + MARGIN_S
    assert result.failures[4].ename == "CellTimeoutError"
    assert result.notices == ("Cell 4 ('train') ran longer than the 3 s limit and was stopped.",)
    assert result.timed_out_cells == {4} and not result.kernel_died
    assert last(result) == AFTER


@needs_root
@pytest.mark.slow
def test_a_cell_ignoring_the_interrupt_is_killed_and_the_rest_runs(tmp_path):
    """Does a cell that ignores SIGINT get its kernel killed, the later cells a fresh kernel?"""
    began = time.monotonic()
    result = run("ignores-interrupt", tmp_path)
    limit = FAST.cell_timeout_s + FAST.interrupt_grace_s
    assert time.monotonic() - began < limit + 2 * MARGIN_S
    assert result.kernel_deaths[0].cause == "killed-after-timeout"
    assert result.notices == (
        "Cell 4 ('train') ran longer than the 3 s limit and did not stop when interrupted, so "
        "its kernel was shut down. The cells after it were run in a fresh kernel.",
    )
    assert last(result) == AFTER  # `state` was rebuilt by re-running the cells before it
    assert result.restarts == 1


@needs_root
def test_sys_exit_is_an_exception_not_an_exit(tmp_path):
    """Does sys.exit() fail its cell only (IPython turns it into an exception)?"""
    result = run("sysexit", tmp_path)
    assert result.failures[4].ename == "SystemExit"
    assert "Cell 4 called sys.exit() or exit(); that cell stopped there" in result.notices[0]
    assert not result.kernel_died and last(result) == AFTER


@needs_root
@pytest.mark.slow
@pytest.mark.parametrize("case", ["os-exit", "self-kill"])
def test_a_kernel_that_dies_is_replaced(tmp_path, case):
    """Does os._exit() or a SIGKILL to itself cost only that cell, the rest run in a new kernel?"""
    result = run(case, tmp_path)
    assert result.kernel_deaths[0].cell_index == 4
    assert result.kernel_deaths[0].cause == "died"
    assert result.failures[4].ename == "DeadKernelError"
    assert result.notices[0].startswith("The kernel died while running cell 4")
    assert result.notices[0].endswith("The cells after it were run in a fresh kernel.")
    assert last(result) == AFTER
    assert result.restarts == 1 and len(result.kernel_start_s) == 2


@needs_root
def test_memory_blowup_is_a_memory_error(tmp_path):
    """Does an allocation past the memory limit raise MemoryError and leave the kernel alive?"""
    limits = Limits(**{**FAST.__dict__, "memory_mb": 512})
    result = run("memory-blowup", tmp_path, limits=limits)
    assert result.failures[4].ename == "MemoryError"
    assert "Cell 4 ran out of memory (the limit is 512 MB per process)." in result.notices
    assert not result.kernel_died and last(result) == AFTER


@needs_root
@pytest.mark.slow
def test_processes_together_over_the_memory_limit_are_stopped(tmp_path):
    """Do child processes that together pass the memory limit (each under it) stop the kernel,
    with the later cells run in a fresh kernel?"""
    limits = Limits(**{**FAST.__dict__, "memory_mb": 512, "cell_timeout_s": 20})
    began = time.monotonic()
    result = run("memory-children", tmp_path, limits=limits)
    # Stopped by the memory watch, not by the 20 s cell limit, well before the cell's 30 s sleep
    # would end (kernel starts under a loaded machine take seconds: the bound leaves them room).
    assert time.monotonic() - began < 30
    assert result.kernel_deaths[0].cause == "memory"
    assert result.notices[0] == (
        "Cell 4 used more than the 512 MB memory limit (the kernel and the processes it started, "
        "together), so its kernel was shut down. The cells after it were run in a fresh kernel."
    )
    assert result.failures[4].ename == "OutOfMemoryError"
    assert last(result) == AFTER


@needs_root
@pytest.mark.slow
def test_with_a_gpu_in_sight_memory_is_watched_not_rlimited(tmp_path, monkeypatch):
    """Where a GPU is visible (no RLIMIT_DATA, for CUDA's sake), is a blow-up still stopped?"""
    monkeypatch.setattr(sandbox.launch, "_gpu_visible", lambda env: True)
    limits = Limits(**{**FAST.__dict__, "memory_mb": 512})
    result = run("memory-blowup", tmp_path, limits=limits)
    assert result.kernel_deaths[0].cause == "memory"
    assert result.failures[4].ename == "OutOfMemoryError"
    assert last(result) == AFTER


@needs_root
@pytest.mark.slow
def test_a_fork_bomb_is_bounded(tmp_path):
    """Does a fork bomb stop at the process limit, and are all its copies reaped?"""
    limits = Limits(**{**FAST.__dict__, "max_processes": 40})
    began = time.monotonic()
    result = run("fork-bomb", tmp_path, limits=limits)
    assert time.monotonic() - began < FAST.total_timeout_s
    assert "fork refused: BlockingIOError" in text(result, 4)
    assert result.kernel_deaths[0].cause == "process-limit"
    assert result.notices == (
        "Cell 4 started processes or threads until the kernel user reached its limit of 40, so "
        "the kernel could not go on and was shut down. The cells after it were run in a fresh "
        "kernel.",
    )
    assert result.failures[4].ename == "ProcessLimitError"
    assert last(result) == AFTER
    # run() checked that no process of the kernel user is left


@needs_root
@pytest.mark.slow
def test_an_output_flood_is_cut_in_the_grader(tmp_path):
    """Do hundreds of MB of printing keep the grader's memory flat and leave a note?"""
    grader = psutil.Process()
    baseline = grader.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], grader.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    limits = Limits(**{**FAST.__dict__, "cell_timeout_s": 60, "memory_mb": 4096})
    try:
        result = run("output-flood", tmp_path, limits=limits)
    finally:
        done.set()
        sampler.join()
    assert (peak[0] - baseline) / 2**20 < 200, f"grader grew by {(peak[0] - baseline) / 2**20} MB"
    for index in (4, 5):
        assert len(text(result, index)) < FAST.max_output_chars + 1000
        assert "characters of output not kept" in text(result, index)
        assert f"Cell {index} printed more output than the grader keeps; the rest was cut." in (
            result.notices
        )
    assert result.truncated_cells == {4, 5}
    assert last(result) == AFTER


@needs_root
@pytest.mark.slow
def test_an_oversized_message_loses_only_its_own_cell(tmp_path):
    """Does one message over the grader's size limit leave the next cells' output intact?"""
    result = run(
        "oversized-display",
        tmp_path,
        # The cell also waits nbclient's 4 s for the output channel that the message broke.
        limits=Limits(**{**FAST.__dict__, "memory_mb": 2048, "cell_timeout_s": 30}),
    )
    assert "sent an output larger than the 32 MB the grader accepts" in result.notices[0]
    assert "larger than the 32 MB" in text(result, 4)
    assert last(result) == AFTER


def _rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@needs_root
def test_one_message_of_many_frames_cannot_fill_the_graders_memory(tmp_path):
    """Does one 1.8 GB message of 60 frames (each under ZeroMQ's per-frame cap) leave the grader's
    memory within its receive bound and cost only its own cell, while a small message of several
    frames is kept?"""
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.005)

    base = _rss_mb()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = run("many-frames-flood", tmp_path)
    finally:
        done.set()
        sampler.join()
    # The bound is what the grader lets a kernel make it hold, plus what arrives in one watchdog
    # tick; without it the whole 1,800 MB message was held before its first frame could be read.
    assert peak[0] - base < _receive_bound_mb(FAST) + 300, f"grader grew {peak[0] - base:.0f} MB"
    assert "SMALL-PARTS" in text(result, 4)
    assert "FLOOD" not in text(result, 5)
    assert any(
        n.startswith("Cell 5 sent the grader more than") and "fresh kernel" in n
        for n in result.notices
    ), result.notices
    assert [d.cause for d in result.kernel_deaths] == ["flood"]
    assert last(result) == AFTER


@needs_root
@pytest.mark.slow
def test_a_background_process_is_reaped_before_it_writes(tmp_path):
    """Is a daemon that outlives the kernel killed before it can rewrite the grader's results?"""
    results = tmp_path / "results"
    results.mkdir(mode=0o700)
    target = results / "results.json"
    result = run("background-daemon", tmp_path, parameters={"TARGET": str(target)})
    assert "daemon started" in text(result, 4)
    # Named by its short name only: its command line could hold a secret (see
    # test_sandbox_hostile.py).
    assert len(result.reaped) == 1 and result.reaped[0].name.startswith("python")
    assert result.notices[0].startswith(
        "A background process started by your notebook was still running after the notebook "
        "ended and was stopped: pid "
    )
    time.sleep(3.5)  # past the moment the daemon meant to write
    assert not target.exists()


@pytest.fixture
def outside_tmp():
    """A world-readable folder outside /tmp (the kernel gets a private /tmp anyway)."""
    for parent in ("/var/lib", "/opt", "/srv"):
        if os.access(parent, os.W_OK):
            folder = Path(tempfile.mkdtemp(prefix="kit-grader-test-", dir=parent))
            os.chmod(folder, 0o755)
            try:
                yield folder
            finally:
                shutil.rmtree(folder)
            return
    pytest.skip("no writable folder outside /tmp")


@needs_root
def test_hidden_files_cannot_be_read_even_when_permissions_allow(tmp_path, outside_tmp):
    """Do hidden paths read as empty or refused, although their modes let anyone read them?"""
    bundle = outside_tmp / "bundle"
    bundle.mkdir(mode=0o755)
    (bundle / "answers.txt").write_text("SECRET-ANSWERS")
    source = outside_tmp / "source.ipynb"
    source.write_text("SECRET-SOURCE")
    os.chmod(bundle / "answers.txt", 0o644)
    os.chmod(source, 0o644)
    result = run(
        "read-hidden",
        tmp_path,
        parameters={"HIDDEN_FILE": str(source), "HIDDEN_DIR": str(bundle)},
        hide=[bundle, source],
    )
    printed = "".join(text(result, i) for i in range(len(result.notebook.cells)))
    assert "SECRET" not in printed
    assert "file: ''" in text(result, 4)  # an empty read-only file over it
    assert "dir refused: PermissionError" in text(result, 5)  # an empty root-only tmpfs
    assert "dir file refused: FileNotFoundError" in text(result, 6)
    # PID 1 is the run's own init (root), which the fresh /proc (hidepid=2) does not even show.
    assert "/proc/1/root refused: FileNotFoundError" in text(result, 7)
    assert last(result) == AFTER
    assert (bundle / "answers.txt").read_text() == "SECRET-ANSWERS"  # the grader still sees it


@needs_root
def test_files_in_tmp_are_out_of_reach(tmp_path):
    """Is a world-readable file the grader left in /tmp invisible (the kernel has its own /tmp)?"""
    secret = tmp_path / "source.ipynb"
    secret.write_text("SECRET-SOURCE")
    os.chmod(secret, 0o644)
    result = run(
        "read-hidden",
        tmp_path,
        parameters={"HIDDEN_FILE": str(secret), "HIDDEN_DIR": str(tmp_path)},
    )
    assert "file refused: FileNotFoundError" in text(result, 4)
    assert "SECRET" not in "".join(text(result, i) for i in range(len(result.notebook.cells)))


@needs_root
def test_without_namespaces_hidden_paths_are_closed_by_permissions(
    tmp_path, outside_tmp, monkeypatch
):
    """Where namespaces are refused (a container without CAP_SYS_ADMIN), is a hidden file
    still unreadable, by taking away its "other" permissions?"""
    monkeypatch.setattr(
        sandbox.isolation, "probe_namespaces", lambda: (False, "refused in this test")
    )
    source = outside_tmp / "source.ipynb"
    source.write_text("SECRET-SOURCE")
    os.chmod(source, 0o644)
    result = run(
        "read-hidden",
        tmp_path,
        workdir=outside_tmp / "work",
        parameters={"HIDDEN_FILE": str(source), "HIDDEN_DIR": str(outside_tmp)},
        hide=[source],
    )
    assert result.isolation.describe() == (
        f"isolation is on: kernel runs as user '{USER}' (uid {pwd.getpwnam(USER).pw_uid}), "
        "network reachable, hidden paths covered by file permissions; no network or mount "
        "namespace: refused in this test"
    )
    assert "file refused: PermissionError" in text(result, 4)
    assert stat.S_IMODE(source.stat().st_mode) == 0o644  # for this run only
    assert last(result) == AFTER


@needs_root
def test_without_namespaces_an_unreachable_workdir_is_a_clear_error(tmp_path, monkeypatch):
    """Without namespaces, is a working directory under a root-only folder refused plainly?"""
    monkeypatch.setattr(
        sandbox.isolation, "probe_namespaces", lambda: (False, "refused in this test")
    )
    os.chmod(tmp_path, 0o700)
    with pytest.raises(IsolationUnavailableError, match=r"The kernel user cannot reach .*mode 7"):
        run("raises", tmp_path)


@needs_root
def test_a_hidden_folder_may_hold_the_working_directory(tmp_path):
    """Can the kernel use its working directory when a hidden folder holds it?"""
    (tmp_path / "answers.txt").write_text("SECRET")
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "answers.txt").write_text("x y\n")
    result = run("well-behaved", tmp_path, hide=[tmp_path])
    assert "answers ['x', 'y']" in text(result, 4)
    assert "SECRET" not in text(result, 4)


@needs_root
def test_there_is_no_network(tmp_path):
    """Do a connection and a name lookup fail at once rather than hang?"""
    result = run("network", tmp_path)
    assert "connection refused after 0.0 s: OSError" in text(result, 4)
    assert "name lookup refused: gaierror" in text(result, 5)
    assert last(result) == AFTER


@needs_root
@pytest.mark.slow
def test_the_total_time_limit_stops_the_notebook(tmp_path):
    """Does the total limit stop the running cell and report the later ones as not run?"""
    limits = Limits(**{**FAST.__dict__, "total_timeout_s": 4.5})
    began = time.monotonic()
    result = run("total-time", tmp_path, limits=limits)
    assert time.monotonic() - began < limits.total_timeout_s + MARGIN_S  # 4.8-5.2 s at load 3
    stopped = result.kernel_deaths[-1]
    assert stopped.cause == "total-timeout"
    assert set(result.not_run) == set(range(stopped.cell_index + 1, len(result.notebook.cells)))
    assert all(n.reason == "total-timeout" for n in result.not_run.values())
    assert result.notices[-1].endswith(
        "did not run: the notebook reached its 4.5 s total time limit."
    )
    assert result.failures[stopped.cell_index].ename == "CellTimeoutError"


@needs_root
@pytest.mark.slow
def test_restarts_are_capped(tmp_path):
    """After max_restarts fresh kernels, are the remaining cells reported as not run?"""
    limits = Limits(**{**FAST.__dict__, "max_restarts": 1})
    result = run("repeated-deaths", tmp_path, limits=limits)
    assert [d.cell_index for d in result.kernel_deaths] == [4, 5]
    assert (
        "had already been restarted 1 times, so the cells after it did not run"
        in (result.notices[1])
    )
    assert set(result.not_run) == {6, 7}
    assert result.not_run[7].reason == "restart-limit"


def test_without_isolation_it_still_runs_and_says_so(tmp_path):
    """With isolate=False, does grading work and say plainly that isolation is off?"""
    result = run("raises", tmp_path, isolate=False)
    assert result.isolation.describe() == (
        "isolation is off: turned off by the caller (isolate=False)"
    )
    assert result.failures[4].ename == "ValueError" and last(result) == AFTER


@pytest.mark.slow
def test_without_isolation_background_processes_are_still_reaped(tmp_path):
    """Without isolation, is a daemon that left the kernel's process group still reaped?"""
    target = tmp_path / "results.json"
    result = run("background-daemon", tmp_path, isolate=False, parameters={"TARGET": str(target)})
    assert len(result.reaped) == 1
    time.sleep(3.5)
    assert not target.exists()


@needs_root
def test_a_kernel_that_cannot_start_is_a_clear_error(tmp_path, monkeypatch):
    """Is a kernel whose Python the kernel user cannot run reported with the launcher's words?"""
    monkeypatch.setattr(
        sandbox.KernelSandbox,
        "_kernel_environment",
        lambda self: {"PATH": "/nonexistent"},
    )
    original = sandbox.KernelSandbox._launch_settings

    def broken(self):
        settings = original(self)
        settings["python"] = "/root/no-such-python"
        return settings

    monkeypatch.setattr(sandbox.KernelSandbox, "_launch_settings", broken)
    with pytest.raises(KernelStartError, match=r"cannot run the kernel's Python /root/no-such"):
        run("raises", tmp_path, limits=Limits(**{**FAST.__dict__, "startup_timeout_s": 10}))
