"""A real one-node Slurm cluster for the tests, started by hand and torn down after.

Needs root and Debian's ``slurm-wlm`` and ``munge`` (``apt-get install slurm-wlm munge``; the
kit's set-up installs them as root). Everything lives in a temporary folder: a fresh munge key
and ``munged`` on its own socket, a generated ``slurm.conf`` for this host (CPUs from
``slurmd -C``, ports picked free, no accounting), ``slurmctld`` and ``slurmd`` with their state,
spool, logs and pid files there. Clients find it through ``SLURM_CONF``. The daemons run in
the foreground as this process's children; only they are stopped, through their handles.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo")


def why_not_available() -> str | None:
    """Why a real cluster cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "the real-Slurm test starts slurmctld, slurmd and munged itself: it needs root"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return (
            f"{', '.join(missing)} not installed; as root: apt-get install slurm-wlm munge "
            "(./kit test's set-up does this)"
        )
    return None


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _node_cpus() -> int:
    shown = subprocess.run(["slurmd", "-C"], capture_output=True, text=True).stdout
    match = re.search(r"\bCPUs=(\d+)", shown)
    return int(match[1]) if match else os.cpu_count() or 1


def _config(folder: Path, max_array_size: int) -> str:
    host = socket.gethostname().split(".")[0]
    ctld_port, slurmd_port = _free_ports(2)
    return f"""\
ClusterName=kittest
SlurmctldHost={host}(127.0.0.1)
AuthType=auth/munge
AuthInfo=socket={folder}/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MaxArraySize={max_array_size}
NodeName={host} NodeAddr=127.0.0.1 CPUs={_node_cpus()} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _stop(daemon: subprocess.Popen) -> None:
    daemon.terminate()
    try:
        daemon.wait(10)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()


def _wait_for(path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear within {timeout_s:g} s")
        time.sleep(0.1)


@contextlib.contextmanager
def one_node_cluster(max_array_size: int = 1001, start_timeout_s: float = 30) -> Iterator[Path]:
    """Start munged, slurmctld and slurmd; yield the ``slurm.conf`` path; stop them after."""
    folder = Path(tempfile.mkdtemp(prefix="kit-slurm-"))
    folder.chmod(0o755)  # munged checks that the path to its socket is not writable by others
    for sub in ("munge", "state", "spool"):
        (folder / sub).mkdir(mode=0o755)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = folder / "slurm.conf"
    conf.write_text(_config(folder, max_array_size))
    daemons: list[subprocess.Popen] = []
    try:
        # In the foreground (-F, -D) as this process's children: stopped and waited for by
        # their Popen handles, so none is left behind or unreaped.
        for command in (
            ["munged", "-F", f"--key-file={key}", f"--socket={folder}/munge/munge.socket",
             f"--pid-file={folder}/munged.pid", f"--log-file={folder}/munged.log",
             f"--seed-file={folder}/munged.seed", "--force"],
            ["slurmctld", "-D", "-i", "-f", str(conf)],
            ["slurmd", "-D", "-f", str(conf)],
        ):  # fmt: skip
            daemons.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))  # fmt: skip
            if command[0] == "munged":
                _wait_for(folder / "munge" / "munge.socket", start_timeout_s)
        env = {**os.environ, "SLURM_CONF": str(conf)}
        deadline = time.monotonic() + start_timeout_s
        while True:
            state = subprocess.run(["sinfo", "--noheader", "--format=%t"], env=env,
                                   capture_output=True, text=True).stdout.strip()  # fmt: skip
            if state in ("idle", "mix", "alloc"):
                break
            if time.monotonic() > deadline:
                logs = "".join(
                    (folder / f).read_text()[-1500:]
                    for f in ("slurmctld.log", "slurmd.log")
                    if (folder / f).exists()
                )
                raise RuntimeError(f"the test cluster's node is {state!r}, not idle:\n{logs}")
            time.sleep(0.5)
        yield conf
    finally:
        for daemon in reversed(daemons):
            _stop(daemon)
        shutil.rmtree(folder, ignore_errors=True)
