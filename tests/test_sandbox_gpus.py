"""GPU isolation: a kernel given one GPU must not reach another by resetting CUDA_VISIBLE_DEVICES.

No GPU is lent to these machines, so the tests build a fake one: a folder standing in for ``/``
(:data:`autograder.sandbox.gpus.GPU_ROOT_ENV`) with NVIDIA's device nodes made by ``os.mknod``
(character devices of major 195, minor N; no driver answers them, so opening the kept one
fails with ENXIO, "no such device", while a withheld one does not exist at all) and the
driver's ``proc/driver/nvidia/gpus/<bus>/information`` files. The launcher rebuilds that fake
``dev/`` exactly as it rebuilds ``/dev`` on a GPU machine, and the notebook looks from inside
the sandboxed kernel. The isolated tests need root; they are skipped elsewhere.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import toy_assignment as toy

from autograder import pipeline, sandbox
from autograder.config import load_assignment
from autograder.execute import ExecutionResult, Limits, execute_notebook
from autograder.sandbox import gpus

USER = sandbox.DEFAULT_KERNEL_USER
LIMITS = Limits(
    cell_timeout_s=20, total_timeout_s=90, interrupt_grace_s=1, memory_mb=1024, max_processes=64
)
NVIDIA = 195
DRM = 226  # /dev/dri/card<N>, /dev/dri/renderD<128+N>
#: The fake machine's two GPUs, in PCI bus order: (bus, minor, UUID).
GPU0 = ("0000:3b:00.0", 0, "GPU-aaaaaaaa-0000-4000-8000-000000000000")
GPU1 = ("0000:5e:00.0", 1, "GPU-bbbbbbbb-1111-4111-8111-111111111111")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="isolation and mknod need root")


def information(bus: str, minor: int, uuid: str) -> str:
    """The driver's ``information`` file for one GPU (the fields the kit reads, and others)."""
    return (
        "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 42\n"
        f"GPU UUID: \t {uuid}\nVideo BIOS: \t 96.00.99.00.01\nBus Type: \t PCIe\n"
        f"Bus Location: \t {bus}\nDevice Minor: \t {minor}\nGPU Excluded:\t No\n"
    )


@pytest.fixture
def fake_gpu_machine(monkeypatch):
    """A fake root with two GPUs, outside /tmp (which the kernel gets fresh), for this test.

    ``dev/`` holds: the GPU nodes ``nvidia0``, ``nvidia1``; the control nodes ``nvidiactl``,
    ``nvidia-modeset``, ``nvidia-uvm``, ``nvidia-uvm-tools`` and ``nvidia-caps/nvidia-cap1``;
    aliases of both GPU nodes in ``by-gpu/`` (another name for the same device) and links to
    them in ``char/``; the GPUs' DRM nodes in ``dri/`` (and a display chip's), which
    ``sys/class/drm`` links to their buses; ``null``; a link ``fd``; and ``shm``, a tmpfs
    mounted there (a mount point of its own, as ``/dev/shm`` and ``/dev/pts`` are).
    """
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    parent = next((p for p in ("/var/lib", "/opt", "/srv") if os.access(p, os.W_OK)), None)
    if parent is None:
        pytest.skip("no writable folder outside /tmp")
    root = Path(tempfile.mkdtemp(prefix="kit-fake-gpu-", dir=parent))
    os.chmod(root, 0o755)
    dev = root / "dev"
    for folder in ("", "by-gpu", "char", "dri", "nvidia-caps", "shm"):
        (dev / folder).mkdir(mode=0o755)
    nodes = {
        "nvidia0": (NVIDIA, 0), "nvidia1": (NVIDIA, 1), "nvidiactl": (NVIDIA, 255),
        "nvidia-modeset": (NVIDIA, 254), "nvidia-uvm": (509, 0), "nvidia-uvm-tools": (509, 1),
        "nvidia-caps/nvidia-cap1": (508, 1), "by-gpu/gpu0": (NVIDIA, 0),
        "by-gpu/gpu1": (NVIDIA, 1), "null": (1, 3), "dri/card0": (DRM, 0),
        "dri/card1": (DRM, 1), "dri/card2": (DRM, 2), "dri/renderD128": (DRM, 128),
        "dri/renderD129": (DRM, 129), "dri/renderD130": (DRM, 130),
    }  # fmt: skip
    for name, (major, minor) in nodes.items():
        os.mknod(dev / name, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(dev / name, 0o666)
    os.symlink("../nvidia0", dev / "char" / f"{NVIDIA}:0")
    os.symlink("../nvidia1", dev / "char" / f"{NVIDIA}:1")
    os.symlink("/proc/self/fd", dev / "fd")
    # The DRM nodes: card0/renderD128 GPU 0's, card1/renderD129 GPU 1's, card2/renderD130 the
    # server's own display chip's (not NVIDIA's: always kept), as sysfs links them to buses.
    for names, bus in ((("card0", "renderD128"), GPU0[0]), (("card1", "renderD129"), GPU1[0]),
                       (("card2", "renderD130"), "0000:02:00.0")):  # fmt: skip
        device = root / "sys" / "devices" / "pci0000:00" / bus
        device.mkdir(parents=True, exist_ok=True)
        for name in names:
            (root / "sys" / "class" / "drm" / name).mkdir(parents=True)
            os.symlink(device, root / "sys" / "class" / "drm" / name / "device")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=1m", "kit-fake-shm",
                    str(dev / "shm")], check=True)  # fmt: skip
    (dev / "shm" / "marker").write_text("the host's shm")
    for bus, minor, uuid in (GPU0, GPU1):
        folder = root / gpus.PROC_GPUS / bus
        folder.mkdir(parents=True)
        (folder / "information").write_text(information(bus, minor, uuid))
    for folder in [root / "proc", *(root / "proc").rglob("*")]:
        if folder.is_dir():
            os.chmod(folder, 0o755)
    monkeypatch.setenv(gpus.GPU_ROOT_ENV, str(root))
    try:
        yield root
    finally:
        subprocess.run(["umount", str(dev / "shm")], check=False)
        shutil.rmtree(root)


def notebook(source: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("GRADING = False")
    params.metadata["tags"] = ["parameters", "raises-exception"]
    cell = nbformat.v4.new_code_cell(textwrap.dedent(source))
    cell.metadata["tags"] = ["raises-exception"]
    nb.cells += [params, cell]
    return nb


def run(source: str, tmp_path: Path, **kw) -> tuple[ExecutionResult, str]:
    """Execute one cell in an isolated kernel; (the result, what the cell printed)."""
    workdir = Path(tempfile.mkdtemp(dir=tmp_path, prefix="work-"))
    result = execute_notebook(
        notebook(source), workdir=workdir, parameters={"GRADING": True}, limits=LIMITS,
        isolate=kw.pop("isolate", True), kernel_user=USER, **kw,
    )  # fmt: skip
    outputs = result.notebook.cells[-1].get("outputs", [])
    text = "".join(o.get("text", "") or f"{o.get('ename')}: {o.get('evalue')}" for o in outputs)
    return result, text


#: What a hostile notebook tries: list the device folder, open every GPU node it can name, make
#: one itself, point CUDA elsewhere, and read the driver's list of GPUs.
LOOK = """\
import errno, os, stat
root = {root!r}
print("CUDA_VISIBLE_DEVICES:", repr(os.environ.get("CUDA_VISIBLE_DEVICES")))
dev = os.path.join(root, "dev")
print("dev:", sorted(os.listdir(dev)))
print("by-gpu:", sorted(os.listdir(os.path.join(dev, "by-gpu"))))
print("dri:", sorted(os.listdir(os.path.join(dev, "dri"))))
print("nvidia-caps:", sorted(os.listdir(os.path.join(dev, "nvidia-caps")))
      if os.path.isdir(os.path.join(dev, "nvidia-caps")) else None)
for name in ("nvidia0", "nvidia1", "by-gpu/gpu0", "by-gpu/gpu1", "char/195:0", "char/195:1",
             "nvidiactl"):
    try:
        os.close(os.open(os.path.join(dev, name), os.O_RDWR))
        print("open", name, "ok")
    except OSError as exc:
        print("open", name, errno.errorcode[exc.errno])
info = os.stat(os.path.join(dev, "null"))
print("null is", os.major(info.st_rdev), os.minor(info.st_rdev))
try:
    os.mknod(os.path.join(dev, "mine"), stat.S_IFCHR | 0o666, os.makedev(195, 0))
    print("mknod ok")
except OSError as exc:
    print("mknod", errno.errorcode[exc.errno])
os.environ["CUDA_VISIBLE_DEVICES"] = "0,1"
print("shm:", sorted(os.listdir(os.path.join(dev, "shm"))))
gpus = os.path.join(root, "proc/driver/nvidia/gpus")
print("gpus:", sorted(os.listdir(gpus)))
print("fd link:", os.readlink(os.path.join(dev, "fd")))
"""


def look(root: Path) -> str:
    return LOOK.format(root=str(root))


@needs_root
def test_a_kernel_given_one_gpu_cannot_open_the_other(fake_gpu_machine, tmp_path, monkeypatch):
    """A worker's kernel given GPU 1 (``batch --gpus 0,1``): is GPU 0's node gone from its
    ``/dev``, under every name, with no way to make it again, while its own GPU and the control
    nodes stay, and does its ``CUDA_VISIBLE_DEVICES`` name its GPU by UUID?"""
    monkeypatch.setenv(gpus.KERNEL_GPUS_ENV, "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    result, text = run(look(fake_gpu_machine), tmp_path)
    assert (
        "dev: ['by-gpu', 'char', 'dri', 'fd', 'null', 'nvidia-caps', 'nvidia-modeset', "
        "'nvidia-uvm', 'nvidia-uvm-tools', 'nvidia1', 'nvidiactl', 'shm']"
    ) in text, text
    assert "by-gpu: ['gpu1']" in text, text
    assert "dri: ['card1', 'card2', 'renderD129', 'renderD130']" in text, text
    assert "nvidia-caps: ['nvidia-cap1']" in text, text
    for withheld in ("nvidia0", "by-gpu/gpu0", "char/195:0"):
        assert f"open {withheld} ENOENT" in text, text
    for kept in ("nvidia1", "by-gpu/gpu1", "char/195:1", "nvidiactl"):
        assert f"open {kept} ENXIO" in text, text  # the node is there; no driver answers it
    assert "null is 1 3" in text, text
    assert "mknod EPERM" in text or "mknod EROFS" in text, text
    assert "shm: ['marker']" in text, text  # a mount point below comes along
    assert f"gpus: ['{GPU1[0]}']" in text, text
    assert "fd link: /proc/self/fd" in text, text
    assert f"CUDA_VISIBLE_DEVICES: '{GPU1[2]}'" in text, text
    assert not any("GPU" in n for n in result.notices), result.notices
    # The host's folder is untouched.
    assert (fake_gpu_machine / "dev" / "nvidia0").exists()


@needs_root
def test_a_kernel_given_no_gpu_keeps_no_nvidia_node(fake_gpu_machine, tmp_path, monkeypatch):
    """A CPU worker on a GPU machine (``CUDA_VISIBLE_DEVICES=""``): does its kernel keep no
    NVIDIA node at all, so that resetting the variable finds nothing?"""
    monkeypatch.delenv(gpus.KERNEL_GPUS_ENV, raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    result, text = run(look(fake_gpu_machine), tmp_path)
    assert "dev: ['by-gpu', 'char', 'dri', 'fd', 'null', 'shm']" in text, text
    assert "by-gpu: []" in text and "nvidia-caps: None" in text, text
    assert "dri: ['card2', 'renderD130']" in text, text
    for name in ("nvidia0", "nvidia1", "by-gpu/gpu0", "by-gpu/gpu1", "nvidiactl"):
        assert f"open {name} ENOENT" in text, text
    assert "gpus: []" in text, text
    assert not result.notices, result.notices


@needs_root
def test_an_id_the_driver_does_not_list_is_said_in_the_results(
    fake_gpu_machine, tmp_path, monkeypatch
):
    """``--gpus 7`` on a two-GPU machine: is it said, in the notices results.json carries, that
    the kernel was steered by CUDA_VISIBLE_DEVICES alone (its /dev left as it was)?"""
    monkeypatch.setenv(gpus.KERNEL_GPUS_ENV, "7")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    result, text = run(look(fake_gpu_machine), tmp_path)
    assert "open nvidia0 ENXIO" in text and "open nvidia1 ENXIO" in text, text
    assert result.notices == (
        "Grader: the kernel could open every GPU of this machine: GPU '7' could not be matched "
        "to its device node (the driver lists 2 GPUs), so only CUDA_VISIBLE_DEVICES steered it, "
        "which the notebook can change.",
    ), result.notices


@needs_root
def test_without_a_mount_namespace_the_gap_is_said_in_the_results(
    fake_gpu_machine, tmp_path, monkeypatch
):
    """Where namespaces are refused (a container without CAP_SYS_ADMIN), is the missing GPU
    isolation said in the results rather than silently skipped?"""
    monkeypatch.setattr(
        sandbox.isolation, "probe_namespaces", lambda: (False, "refused in this test")
    )
    monkeypatch.setenv(gpus.KERNEL_GPUS_ENV, "1")
    workdir = fake_gpu_machine / "work"  # without namespaces the kernel needs a reachable one
    workdir.mkdir()
    os.chmod(fake_gpu_machine, 0o755)
    result = execute_notebook(
        notebook("print('ran')"), workdir=workdir, parameters={"GRADING": True},
        limits=LIMITS, isolate=None, kernel_user=USER,
    )  # fmt: skip
    assert result.notices == (f"Grader: {gpus.no_namespace_note()}.",), result.notices


#: Run in a private mount namespace (``unshare -m``): the launcher's steps on this machine's real
#: ``/dev``, as on a GPU machine (here with no NVIDIA node to leave out).
REAL_DEV = """\
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("launcher", sys.argv[1])
launcher = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launcher)
launcher.mount(None, "/", None, launcher.MS_REC | launcher.MS_PRIVATE, None)
launcher.set_read_only("/", True)
launcher.mount("tmpfs", "/dev/shm", "tmpfs", launcher.MS_NOSUID, "mode=1777,size=1m")
open("/dev/shm/kit-private", "w").close()
before = {n: os.lstat("/dev/" + n) for n in os.listdir("/dev")}
launcher.rebuild_devices({"dev_root": "/dev", "keep_minors": []})
after = {n: os.lstat("/dev/" + n) for n in os.listdir("/dev")}
key = lambda info: (info.st_mode, info.st_rdev, info.st_uid, info.st_gid)
print("same entries:", sorted(before) == sorted(after))
print("differing:", [n for n in before if n in after and key(before[n]) != key(after[n])])
print("shm:", os.listdir("/dev/shm"), "pts mounted:", os.path.ismount("/dev/pts"))
print("null written:", open("/dev/null", "w").write("x"))
try:
    open("/dev/kit-new", "w")
except OSError as exc:
    print("new file:", exc.strerror)
"""


@needs_root
def test_the_real_dev_folder_comes_back_whole(tmp_path):
    """Rebuilt by the launcher as on a GPU machine, is this machine's /dev the same (every entry
    with its type, device number, owner and mode), its mount points (the run's private
    /dev/shm, /dev/pts) still there, and read-only?"""
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is missing")
    launcher = Path(sandbox.isolation.LAUNCHER)
    done = subprocess.run(
        ["unshare", "-m", sys.executable, "-I", "-S", "-c", REAL_DEV, str(launcher)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "same entries: True" in done.stdout, done.stdout
    assert "differing: []" in done.stdout, done.stdout
    assert "shm: ['kit-private'] pts mounted: True" in done.stdout, done.stdout
    assert "null written: 1" in done.stdout, done.stdout
    assert "new file: Read-only file system" in done.stdout, done.stdout


def test_without_an_nvidia_driver_nothing_is_planned(tmp_path):
    """No ``dev/nvidiactl``: is there no plan (and nothing for the launcher to do), cheaply?"""
    started = time.perf_counter()
    for _ in range(1000):
        assert gpus.plan_gpu_devices("1", "1", root=tmp_path) is None
    assert time.perf_counter() - started < 0.5


def test_ids_are_matched_by_index_in_bus_order_or_by_uuid(tmp_path):
    """Are ``nvidia-smi`` indices counted in PCI bus order (not in the order the driver's
    folders were made) and UUIDs matched, and is a MIG id refused with a note?"""
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "nvidiactl").touch()
    for bus, minor, uuid in ((GPU1[0], 0, GPU1[2]), (GPU0[0], 1, GPU0[2])):  # minors swapped
        folder = tmp_path / gpus.PROC_GPUS / bus
        folder.mkdir(parents=True)
        (folder / "information").write_text(information(bus, minor, uuid))
    plan = gpus.plan_gpu_devices("0", "0", root=tmp_path)
    assert plan.launcher_settings()["keep_minors"] == [1]  # bus 3b comes first, minor 1
    assert plan.launcher_settings()["keep_buses"] == [GPU0[0]]
    assert plan.cuda_visible_devices() == GPU0[2]
    plan = gpus.plan_gpu_devices(GPU1[2][:12], None, root=tmp_path)
    assert [g.minor for g in plan.keep] == [0]
    assert gpus.plan_gpu_devices(None, "0,1", root=tmp_path) is None  # both: nothing to hide
    assert gpus.plan_gpu_devices(None, "", root=tmp_path).keep == ()
    mig = gpus.plan_gpu_devices("MIG-1234", None, root=tmp_path)
    assert not mig.restricts and "MIG instance" in mig.note


@needs_root
@pytest.mark.slow
def test_each_batch_worker_kernel_reaches_only_its_gpu(fake_gpu_machine, tmp_path, monkeypatch):
    """End to end through ``batch --gpus 0,1``: does each worker's kernel find only its own GPU's
    node (and the control nodes), as the submission's own code lists them?"""
    root = toy.make_root(tmp_path / "kit")
    monkeypatch.setenv("KIT_BUNDLE_DIR", str(root / "bundles"))
    pipeline.build(load_assignment(toy.NAME, root), device="cpu")
    dev = str(fake_gpu_machine / "dev")
    q1 = (
        f"import os\nprint('KIT_NODES', sorted(n for n in os.listdir({dev!r}) if n[6:7].isdigit()"
        "), os.environ.get('CUDA_VISIBLE_DEVICES'))\ndef add(a, b):\n    return a + b"
    )
    for name in ("first", "second"):
        toy.student(tmp_path / "subs" / name / "toy.ipynb", q1=q1)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "batch", toy.NAME, str(tmp_path / "subs"),
         "--out", str(out), "--root", str(root), "--gpus", "0,1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr
    seen = {}
    for name in ("first", "second"):
        status = json.loads((out / name / "status.json").read_text())
        pages = "".join(p.read_text() for p in (out / name / "feedback").glob("*.html"))
        line = re.search(r"KIT_NODES ([^\n]*)", html.unescape(re.sub(r"<[^>]+>", "", pages)))
        assert line, pages[:2000]
        seen[status["gpu"]] = line[1].strip()
    assert seen == {"0": f"['nvidia0'] {GPU0[2]}", "1": f"['nvidia1'] {GPU1[2]}"}, seen


def _fake_proc(root: Path, listed: list[tuple[str, int | None, str]]) -> Path:
    """A fake root whose driver lists ``listed`` (bus, minor or None for an entry that gives
    none, UUID); ``dev/nvidiactl`` only needs to exist for the plan. (From the round-2 review.)"""
    (root / "dev").mkdir(parents=True)
    (root / "dev" / "nvidiactl").touch()
    for bus, minor, uuid in listed:
        folder = root / gpus.PROC_GPUS / bus
        folder.mkdir(parents=True)
        text = f"GPU UUID: \t {uuid}\nBus Location: \t {bus}\n"
        if minor is not None:
            text += f"Device Minor: \t {minor}\n"
        (folder / "information").write_text(text)
    return root


def test_an_unreadable_gpu_entry_does_not_shift_the_indices(tmp_path):
    """Round-2 attack: GPU 0's driver entry gives no Device Minor. Is worker "0" refused GPU 1
    (another worker's), with a note, rather than given it because the indices moved up?"""
    root = _fake_proc(
        tmp_path, [("0000:3b:00.0", None, "GPU-aaaa"), ("0000:5e:00.0", 1, "GPU-bbbb")]
    )
    plan = gpus.plan_gpu_devices("0", None, root)
    assert plan is not None
    assert [g.bus for g in plan.keep] != ["0000:5e:00.0"], "index 0 became the second GPU"
    assert not plan.restricts and "no device minor for the GPU at 0000:3b:00.0" in plan.note
    plan = gpus.plan_gpu_devices("1", None, root)  # the readable GPU keeps its own index
    assert plan.restricts and plan.launcher_settings()["keep_minors"] == [1]
    assert gpus.unknown_gpus(["0", "1"], root) == {}  # listed: graded, with the note, not refused


def test_a_kernel_steered_only_by_cuda_visible_devices_is_restricted_or_told(tmp_path):
    """Round-2 attack: what a Slurm GPU task's kernel got on a two-GPU node,
    CUDA_VISIBLE_DEVICES=1 alone. Safe: it keeps GPU 1's node only, or the results note that
    it could open both."""
    listed = [("0000:3b:00.0", 0, "GPU-aaaa"), ("0000:5e:00.0", 1, "GPU-bbbb")]
    plan = gpus.plan_gpu_devices(None, "1", _fake_proc(tmp_path, listed))
    assert plan is not None and (plan.note or plan.launcher_settings()["keep_minors"] == [1])
    assert not plan.restricts and "only CUDA_VISIBLE_DEVICES ('1') named its GPUs" in plan.note


def test_cuda_visible_devices_alone_restricts_by_uuid_and_is_told_by_index(tmp_path):
    """Without KIT_KERNEL_GPUS: a UUID names one GPU for sure, so only its node is kept; an
    index may be CUDA's (fastest first) or a Slurm allocation's own count, so it is told."""
    root = _fake_proc(tmp_path, [GPU0, GPU1])
    plan = gpus.plan_gpu_devices(None, GPU1[2], root)
    assert plan.restricts and plan.launcher_settings()["keep_minors"] == [1]
    assert plan.cuda_visible_devices() == GPU1[2]
    for cuda_visible in ("0", "1", " 1 "):
        plan = gpus.plan_gpu_devices(None, cuda_visible, root)
        assert not plan.restricts and gpus.KERNEL_GPUS_ENV in plan.note, cuda_visible
    unknown = gpus.plan_gpu_devices(None, "GPU-cccc", root)
    assert not unknown.restricts and "no GPU of the driver has that UUID" in unknown.note
    for everything in (f"{GPU0[2]},{GPU1[2]}", "1,0", None):
        assert gpus.plan_gpu_devices(None, everything, root) is None


def test_a_slurm_tasks_gpus_are_matched_by_device_minor(tmp_path):
    """Slurm's GPU ids count /dev/nvidia<N>, not nvidia-smi's bus order: with the minors
    swapped against the buses, does Slurm's GPU 0 become the GPU whose node is nvidia0?"""
    root = _fake_proc(tmp_path, [(GPU0[0], 1, GPU0[2]), (GPU1[0], 0, GPU1[2])])
    assert gpus.slurm_kernel_gpus({"SLURM_JOB_GPUS": "0"}, root) == GPU1[2]
    both = {"SLURM_JOB_GPUS": "0,1", "SLURM_STEP_GPUS": "1"}  # the step's own: narrower
    assert gpus.slurm_kernel_gpus(both, root) == GPU0[2]
    assert gpus.slurm_kernel_gpus({"SLURM_JOB_GPUS": "0,7"}, root) is None  # 7: not listed
    assert gpus.slurm_kernel_gpus({}, root) is None


def test_a_slurm_gpu_task_names_its_gpus_for_the_kernel(tmp_path, monkeypatch):
    """The round-2 hole's first half: does a Slurm GPU task hand its grader KIT_KERNEL_GPUS
    (from SLURM_JOB_GPUS), so that the kernel keeps only that GPU's node, and a CPU task not?"""
    from autograder import slurm

    root = _fake_proc(tmp_path / "machine", [GPU0, GPU1])
    monkeypatch.setenv(gpus.GPU_ROOT_ENV, str(root))
    seen = []
    monkeypatch.setattr(
        slurm, "grade_one", lambda *a, **k: seen.append(os.environ.get(gpus.KERNEL_GPUS_ENV))
        or SimpleNamespace(exit_code=0, score=1.0, message="", graded=True),
    )  # fmt: skip
    for device in ("cuda", "cpu"):
        monkeypatch.delenv(gpus.KERNEL_GPUS_ENV, raising=False)
        manifest = tmp_path / f"{device}.json"
        manifest.write_text(json.dumps({
            "assignment": "toy", "device": device, "out": str(tmp_path / "out"),
            "root": str(tmp_path), "submissions": [{"name": "s", "path": str(tmp_path)}],
        }))  # fmt: skip
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "0")
        monkeypatch.setenv("SLURM_JOB_GPUS", "1")
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # Slurm's, counted in its allocation
        assert slurm.task_main(manifest, 0) == 0
    assert seen == [GPU1[2], None], seen


@needs_root
def test_a_kernel_steered_by_a_cuda_index_alone_says_so_in_the_results(
    fake_gpu_machine, tmp_path, monkeypatch
):
    """`grade` with CUDA_VISIBLE_DEVICES=1 and no KIT_KERNEL_GPUS, on the fake machine: the
    kernel keeps both nodes (an index is not sure to be nvidia-smi's), and results.json's
    notices say it could open every GPU; by UUID, GPU 0's node is gone."""
    monkeypatch.delenv(gpus.KERNEL_GPUS_ENV, raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    result, text = run(look(fake_gpu_machine), tmp_path)
    assert "open nvidia0 ENXIO" in text and "open nvidia1 ENXIO" in text, text
    assert len(result.notices) == 1 and result.notices[0].startswith(
        "Grader: the kernel could open every GPU of this machine: only CUDA_VISIBLE_DEVICES"
    ), result.notices
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", GPU1[2])
    result, text = run(look(fake_gpu_machine), tmp_path)
    assert "open nvidia0 ENOENT" in text and "open nvidia1 ENXIO" in text, text
    assert f"CUDA_VISIBLE_DEVICES: '{GPU1[2]}'" in text and not result.notices, text
