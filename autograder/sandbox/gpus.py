"""GPU isolation: which NVIDIA device nodes a grading kernel keeps, and where that cannot hold.

``batch --gpus 0,1`` gives each worker's kernel its GPU in ``CUDA_VISIBLE_DEVICES``, which the
student's code can change: the variable only steers CUDA, it guards nothing. What guards is the
device node: CUDA reaches GPU *N* through ``/dev/nvidia<minor>``, and a node that does not exist
in the kernel's mount namespace cannot be opened. So the batch worker names the kernel's GPUs
(:data:`KERNEL_GPUS_ENV`), :func:`plan_gpu_devices` turns them into the minors and bus
addresses to keep, and the launcher rebuilds the kernel's ``/dev`` without the other GPUs'
nodes (and their DRM nodes in ``/dev/dri``; the control nodes ``nvidiactl``, ``nvidia-uvm``,
``nvidia-uvm-tools``, ``nvidia-modeset`` and ``nvidia-caps/`` stay) and its
``/proc/driver/nvidia/gpus`` without their folders; a kernel given no GPU keeps no NVIDIA node
at all.

The ids are ``nvidia-smi``'s: an index in PCI bus order, or a UUID (``GPU-...``). They are read
from the driver's ``/proc/driver/nvidia/gpus/<bus>/information`` (``Device Minor``, ``GPU
UUID``), and the kernel's ``CUDA_VISIBLE_DEVICES`` becomes the kept GPUs' UUIDs, which name the
same GPU however CUDA numbers the devices it can open.

Without an NVIDIA driver (no ``/dev/nvidiactl``) nothing here runs beyond that one ``stat``.
Where it cannot hold (no mount namespace; an id the driver does not list; a MIG instance) the
kernel keeps every node, and :attr:`GpuPlan.note` says so in the results.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

#: The GPUs whose device nodes the grading kernel keeps (ids as ``nvidia-smi`` gives them,
#: comma-separated; empty: none). Set by the batch worker for the grader it starts; unset, the
#: kernel keeps what the grader has (a kernel told ``CUDA_VISIBLE_DEVICES=""`` keeps none).
KERNEL_GPUS_ENV = "KIT_KERNEL_GPUS"
#: Tests only: a folder standing in for ``/`` where NVIDIA's nodes (``dev/``) and the driver's
#: GPU list (``proc/driver/nvidia/gpus/``) are looked for, made of fake nodes (``os.mknod``).
GPU_ROOT_ENV = "KIT_GPU_ROOT"
#: Where the driver lists its GPUs, and where sysfs links each DRM node to its GPU's bus,
#: relative to the root.
PROC_GPUS = "proc/driver/nvidia/gpus"
SYS_DRM = "sys/class/drm"


@dataclass(frozen=True)
class NvidiaGpu:
    """One GPU as the driver lists it: ``bus`` its PCI address (``0000:3b:00.0``, the folder
    name under ``/proc/driver/nvidia/gpus``), ``minor`` the N of ``/dev/nvidiaN`` (None where
    its ``information`` file cannot be read or gives none), ``uuid`` its ``GPU-...`` id (None
    where the driver does not say)."""

    bus: str
    minor: int | None
    uuid: str | None


@dataclass(frozen=True)
class GpuPlan:
    """What a kernel keeps of NVIDIA's device nodes (``keep``: its GPUs; empty: none), or,
    where that cannot be done, ``note``: why the kernel keeps every node."""

    dev_root: Path
    proc_gpus: Path
    keep: tuple[NvidiaGpu, ...] = ()
    note: str | None = None
    #: The other NVIDIA GPUs' DRM nodes, as paths under ``dev_root`` (``dri/renderD129``).
    withhold: tuple[str, ...] = ()

    @property
    def restricts(self) -> bool:
        return self.note is None

    def launcher_settings(self) -> dict:
        """The launcher's ``gpu_devices`` settings (see ``rebuild_devices`` there)."""
        return {
            "dev_root": str(self.dev_root),
            "proc_gpus": str(self.proc_gpus),
            "keep_minors": [g.minor for g in self.keep],
            "keep_buses": [g.bus for g in self.keep],
            "withhold_paths": list(self.withhold),
        }

    def cuda_visible_devices(self) -> str:
        """The kernel's ``CUDA_VISIBLE_DEVICES``: its GPUs' UUIDs ("" for none).

        >>> plan = GpuPlan(Path("/dev"), Path("/p"), (NvidiaGpu("0000:3b:00.0", 1, "GPU-ab"),))
        >>> plan.cuda_visible_devices()
        'GPU-ab'
        """
        return ",".join(str(g.uuid) for g in self.keep)


def gpu_root() -> Path:
    """``/``, or the fake root a test names in :data:`GPU_ROOT_ENV`."""
    return Path(os.environ.get(GPU_ROOT_ENV) or "/")


def nvidia_gpus(proc_gpus: Path) -> list[NvidiaGpu]:
    """Every GPU the driver lists in ``proc_gpus``, in PCI bus order (``nvidia-smi``'s indices).

    A folder whose ``information`` file cannot be read or gives no ``Device Minor`` keeps its
    place with ``minor`` None: leaving it out would move every later GPU up one index, and a
    worker given GPU 0 would be handed GPU 1, another worker's.
    """
    found = []
    try:
        buses = sorted(p.name for p in proc_gpus.iterdir() if p.is_dir())
    except OSError:
        return []
    for bus in buses:
        try:
            text = (proc_gpus / bus / "information").read_text(errors="replace")
        except OSError:
            text = ""
        fields = {}
        for line in text.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        try:
            minor = int(fields["Device Minor"])
        except (KeyError, ValueError):
            minor = None
        uuid = fields.get("GPU UUID", "")
        found.append(NvidiaGpu(bus.lower(), minor, uuid if uuid.startswith("GPU-") else None))
    return found


def plan_gpu_devices(
    kernel_gpus: str | None, cuda_visible: str | None, root: Path | None = None
) -> GpuPlan | None:
    """Which GPUs the kernel keeps; None where there is no NVIDIA driver or nothing to do.

    ``kernel_gpus`` is :data:`KERNEL_GPUS_ENV`'s value (None: unset), ``cuda_visible`` the
    kernel's ``CUDA_VISIBLE_DEVICES`` (None: unset). With ``kernel_gpus`` unset:

    - ``cuda_visible`` unset, or naming as many GPUs as the driver lists: nothing to hide (None);
    - ``cuda_visible`` giving no GPU ("" or "-1"): the kernel keeps no NVIDIA node;
    - ``cuda_visible`` naming fewer GPUs by UUID: the kernel keeps those GPUs' nodes;
    - ``cuda_visible`` naming fewer GPUs by index: the kernel keeps every node and the note
      says so. CUDA's indices are not nvidia-smi's in general (CUDA_DEVICE_ORDER defaults to
      fastest first; a Slurm job with constrained devices counts within its allocation), so
      keeping the node an index names by bus order could take the kernel's own GPU away.
    """
    root = root or gpu_root()
    dev_root, proc_gpus = root / "dev", root / PROC_GPUS
    if not (dev_root / "nvidiactl").exists():
        return None
    gpus = nvidia_gpus(proc_gpus)
    wanted = kernel_gpus
    if wanted is None:
        if cuda_visible is None:
            return None  # no GPU named for this kernel: it keeps what the grader has
        if cuda_visible.strip() in ("", "-1"):
            wanted = ""
        else:
            named = {part.strip() for part in cuda_visible.split(",") if part.strip()}
            if len(named) >= len(gpus):
                return None  # it may use every GPU the driver lists: nothing to hide
            if any(part.isdigit() for part in named):
                return GpuPlan(dev_root, proc_gpus, note=_steered_only(cuda_visible))
            wanted = cuda_visible
    ids = [part.strip() for part in wanted.split(",") if part.strip()]
    keep = []
    for gpu_id in ids:
        match = _find(gpu_id, gpus)
        if isinstance(match, str):
            return GpuPlan(dev_root, proc_gpus, note=_unrestricted(gpu_id, match))
        keep.append(match)
    others = {g.bus for g in gpus} - {g.bus for g in keep}
    withhold = tuple(drm_nodes_of(root / SYS_DRM, others))
    return GpuPlan(dev_root, proc_gpus, tuple(dict.fromkeys(keep)), withhold=withhold)


def drm_nodes_of(sys_drm: Path, buses: set[str]) -> list[str]:
    """The DRM nodes (``dri/card<N>``, ``dri/renderD<N>``) of the GPUs at ``buses``.

    ``sys_drm`` is ``/sys/class/drm``, where each node's ``device`` link ends in its GPU's
    PCI address. NVIDIA's DRM driver is the display side (CUDA does not go through it), but
    its nodes are still that GPU's, so the other GPUs' nodes are left out, as NVIDIA's
    container runtime leaves them out; a display chip's stay.
    """
    found = []
    try:
        entries = sorted(sys_drm.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not re.fullmatch(r"(card|renderD)\d+", entry.name):  # not card1-HDMI-A-1, a connector
            continue
        if Path(os.path.realpath(entry / "device")).name.lower() in buses:
            found.append(f"dri/{entry.name}")
    return found


def _find(gpu_id: str, gpus: list[NvidiaGpu]) -> NvidiaGpu | str:
    """The GPU ``gpu_id`` names, or why none can be told.

    >>> gpus = [NvidiaGpu("0000:3b:00.0", 0, "GPU-aa11"), NvidiaGpu("0000:5e:00.0", 1, "GPU-bb2")]
    >>> _find("1", gpus).minor, _find("GPU-aa", gpus).minor, _find("bb", gpus).minor
    (1, 0, 1)
    >>> _find("2", gpus), _find("1", gpus[:1]), _find("MIG-7", gpus)[:24]
    ('the driver lists 2 GPUs', 'the driver lists 1 GPU', 'it names a MIG instance,')
    """
    if gpu_id.isdigit():
        if int(gpu_id) >= len(gpus):
            return f"the driver lists {len(gpus)} GPU" + ("" if len(gpus) == 1 else "s")
        gpu = gpus[int(gpu_id)]
    elif gpu_id.startswith("MIG-"):
        return "it names a MIG instance, whose device nodes this sandbox does not sort out"
    else:  # a UUID, or its unique beginning, as CUDA_VISIBLE_DEVICES accepts
        prefix = gpu_id if gpu_id.startswith("GPU-") else f"GPU-{gpu_id}"
        matches = [g for g in gpus if g.uuid and g.uuid.lower().startswith(prefix.lower())]
        if len(matches) != 1:
            return "no GPU of the driver has that UUID" if not matches else "it is ambiguous"
        gpu = matches[0]
    if gpu.minor is None:
        return (f"the driver gives no device minor for the GPU at {gpu.bus}: its "
                f"{PROC_GPUS}/{gpu.bus}/information file could not be read or has no "
                "'Device Minor' line")  # fmt: skip
    if gpu.uuid is None:
        return f"the driver gives no UUID for the GPU at {gpu.bus}"
    return gpu


def unknown_gpus(ids: list[str], root: Path | None = None) -> dict[str, str]:
    """The ids among ``ids`` that name no GPU of this machine, each with why (empty where all
    are found, or where no NVIDIA driver is there to ask). MIG ids are not checked here.

    For ``batch --gpus``: a typo would otherwise grade every submission without its GPU.
    """
    root = root or gpu_root()
    if not (root / "dev" / "nvidiactl").exists():
        return {}
    gpus = nvidia_gpus(root / PROC_GPUS)
    unknown = {}
    for gpu_id in ids:
        found = _find(gpu_id, gpus)
        if isinstance(found, str) and not found.startswith(("it names a MIG", "the driver gives")):
            unknown[gpu_id] = found
    return unknown


def _unrestricted(gpu_id: str, why: str) -> str:
    return (
        f"the kernel could open every GPU of this machine: GPU {gpu_id!r} could not be matched "
        f"to its device node ({why}), so only CUDA_VISIBLE_DEVICES steered it, which the "
        "notebook can change"
    )


def _steered_only(cuda_visible: str) -> str:
    return (
        f"the kernel could open every GPU of this machine: only CUDA_VISIBLE_DEVICES "
        f"({cuda_visible!r}) named its GPUs, which the notebook can change, and CUDA's indices "
        f"cannot be matched to device nodes for sure; to keep only its GPUs' nodes, name them "
        f"in {KERNEL_GPUS_ENV} (nvidia-smi's indices or UUIDs) or in CUDA_VISIBLE_DEVICES by "
        "UUID (nvidia-smi -L lists them)"
    )


def slurm_kernel_gpus(environ: dict[str, str], root: Path | None = None) -> str | None:
    """The :data:`KERNEL_GPUS_ENV` value (UUIDs) for a Slurm task's kernel, from the GPUs Slurm
    gave it (``SLURM_STEP_GPUS``, else ``SLURM_JOB_GPUS``); None where Slurm names none or one
    of them cannot be matched (the kernel then keeps every node, and the results say so).

    Slurm's GPU ids are global on the node (not relative to its device cgroup) and count the
    device files ``/dev/nvidia<N>`` of gres.conf, so they are matched as device minors, not as
    nvidia-smi's bus-order indices (the two orders can differ); the UUIDs then name the same
    GPUs for the plan whatever CUDA's numbering.
    """
    ids = environ.get("SLURM_STEP_GPUS") or environ.get("SLURM_JOB_GPUS") or ""
    wanted = [part.strip() for part in ids.split(",") if part.strip()]
    root = root or gpu_root()
    if not wanted or not (root / "dev" / "nvidiactl").exists():
        return None
    by_minor = {str(g.minor): g.uuid for g in nvidia_gpus(root / PROC_GPUS) if g.uuid}
    if not all(part in by_minor for part in wanted):
        return None
    return ",".join(by_minor[part] for part in wanted)


def no_namespace_note() -> str:
    """The note for a kernel that was to keep only some GPUs but has no mount namespace."""
    return (
        "the kernel could open every GPU of this machine: without a mount namespace the other "
        "GPUs' device nodes cannot be hidden, so only CUDA_VISIBLE_DEVICES steered it, which "
        "the notebook can change"
    )
