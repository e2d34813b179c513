"""The sandbox against a submission that tries to outlive its run or reach beyond it.

Each test is a question a hostile review asked: what one run plants (SysV IPC, files in
world-writable folders, keys) must be gone for the next run with the same kernel user; other
processes' command lines must stay unreadable; memory no process maps (memfds, tmpfs files) must
count against the limit; a student's tree must not break the clean-up or keep the user's lock.

The notebooks are built here (a few lines each) rather than kept as fixture files, so that each
test reads top to bottom. The isolated tests need root; they are skipped elsewhere.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import textwrap
from pathlib import Path

import nbformat
import psutil
import pytest

from autograder import sandbox
from autograder.cgroup import create_memory_cgroup
from autograder.execute import ExecutionResult, Limits, execute_notebook

USER = sandbox.DEFAULT_KERNEL_USER
LIMITS = Limits(
    cell_timeout_s=20, total_timeout_s=90, interrupt_grace_s=1, memory_mb=1024, max_processes=64
)
#: SysV keys the planting notebook uses ("kit" in ASCII, and one more; semaphores share it).
SHM_KEY, MSG_KEY = 0x6B6974, 0x6B6975
KEY_DESCRIPTION = b"kit-planted-key"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root")
needs_x86_64 = pytest.mark.skipif(
    os.uname().machine != "x86_64", reason="the keyring notebook uses x86-64 system call numbers"
)


def notebook(*cells: str) -> nbformat.NotebookNode:
    """A notebook of ``cells`` after a papermill ``parameters`` cell, every cell tolerant."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("GRADING = False")
    params.metadata["tags"] = ["parameters", "raises-exception"]
    nb.cells.append(params)
    for source in cells:
        cell = nbformat.v4.new_code_cell(textwrap.dedent(source))
        cell.metadata["tags"] = ["raises-exception"]
        nb.cells.append(cell)
    return nb


def run(
    nb: nbformat.NotebookNode, tmp_path: Path, limits: Limits = LIMITS, **kw
) -> ExecutionResult:
    workdir = Path(tempfile.mkdtemp(dir=tmp_path, prefix="work-"))
    return execute_notebook(
        nb,
        workdir=workdir,
        parameters={"GRADING": True, **kw.pop("parameters", {})},
        limits=limits,
        isolate=True,
        kernel_user=USER,
        **kw,
    )


def printed(result: ExecutionResult) -> str:
    """Everything the notebook's cells printed or raised, as one text."""
    parts = []
    for cell in result.notebook.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type == "error":
                parts.append(f"{out.ename}: {out.evalue}\n")
    return "".join(parts)


def as_kernel_user(action) -> None:
    """Run ``action()`` in a child that became the kernel user (for clean-up in the host)."""
    entry = pwd.getpwnam(USER)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.setgroups([])
            os.setresgid(entry.pw_gid, entry.pw_gid, entry.pw_gid)
            os.setresuid(entry.pw_uid, entry.pw_uid, entry.pw_uid)
            action()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def remove_host_leftovers() -> None:
    """Delete what a sandbox without IPC namespaces or keyring clearing left in the host."""
    libc = ctypes.CDLL(None, use_errno=True)
    shm = libc.shmget(SHM_KEY, 0, 0)
    if shm >= 0:
        libc.shmctl(shm, 0, None)  # IPC_RMID
    msg = libc.msgget(MSG_KEY, 0)
    if msg >= 0:
        libc.msgctl(msg, 0, None)
    sem = libc.semget(MSG_KEY, 0, 0)
    if sem >= 0:
        libc.semctl(sem, 0, 0)  # IPC_RMID
    libc.mq_unlink(b"/kit-planted")
    Path("/run/lock/kit-planted").unlink(missing_ok=True)
    if os.uname().machine == "x86_64":
        as_kernel_user(lambda: libc.syscall(250, 7, -4))  # keyctl(KEYCTL_CLEAR, user keyring)


@pytest.fixture
def world_writable_outside_tmp():
    """A folder anyone may write to, outside the well-known ones (made after the scan)."""
    for parent in ("/var/lib", "/opt", "/srv"):
        if os.access(parent, os.W_OK):
            folder = Path(tempfile.mkdtemp(prefix="kit-ww-", dir=parent))
            os.chmod(folder, 0o777)
            try:
                yield folder
            finally:
                shutil.rmtree(folder)
            return
    pytest.skip("no writable folder outside /tmp")


PLANT = """\
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print("shm", libc.shmget({shm}, 2 << 20, 0o1000 | 0o666) >= 0)
print("msg", libc.msgget({msg}, 0o1000 | 0o666) >= 0)
print("sem", libc.semget({msg}, 1, 0o1000 | 0o666) >= 0)
print("mq", libc.mq_open(b"/kit-planted", os.O_CREAT | os.O_RDWR, 0o666, None) >= 0)
for place in ("/run/lock", "/var/tmp", "/dev/shm", {ww!r}):
    try:
        with open(os.path.join(place, "kit-planted"), "w") as f:
            f.write("planted")
        print("file", place, "written")
    except OSError as exc:
        print("file", place, "refused", type(exc).__name__)
key = libc.syscall(248, b"user", {desc!r}, b"secret", 6, -4)  # add_key to the user keyring
print("key", key > 0)
key = libc.syscall(248, b"user", {desc!r}, b"secret", 6, -3)  # ... and to the session keyring
print("session key", key > 0)
"""

LOOK = """\
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print("shm seen", libc.shmget({shm}, 0, 0) >= 0)
print("msg seen", libc.msgget({msg}, 0) >= 0)
print("sem seen", libc.semget({msg}, 0, 0) >= 0)
print("mq seen", libc.mq_open(b"/kit-planted", os.O_RDONLY) >= 0)
for place in ("/run/lock", "/var/tmp", "/dev/shm", {ww!r}):
    print("file seen", place, os.path.exists(os.path.join(place, "kit-planted")))
found = libc.syscall(250, 10, -4, b"user", {desc!r}, 0)  # keyctl(KEYCTL_SEARCH, user keyring)
print("key seen", found > 0)
print("session key seen", libc.syscall(250, 10, -3, b"user", {desc!r}, 0) > 0)
"""


@needs_root
@needs_x86_64
def test_nothing_one_run_plants_is_seen_by_the_next(tmp_path, world_writable_outside_tmp):
    """Does a second run with the same kernel user find none of the SysV shared memory, message
    queue and semaphore, POSIX message queue, files in world-writable folders and user-keyring
    key that a first run planted?"""
    fields = {"shm": SHM_KEY, "msg": MSG_KEY, "ww": str(world_writable_outside_tmp)}
    fields["desc"] = KEY_DESCRIPTION
    try:
        first = printed(run(notebook(PLANT.format(**fields)), tmp_path))
        for planted in ("shm", "msg", "sem", "mq", "key", "session key"):
            assert f"{planted} True" in first, first
        assert "file /run/lock written" in first, first
        second = printed(run(notebook(LOOK.format(**fields)), tmp_path))
        assert "shm seen False" in second, second
        assert "msg seen False" in second, second
        assert "key seen False" in second, second
        assert "True" not in second, second
        assert not (world_writable_outside_tmp / "kit-planted").exists()
        assert not Path("/run/lock/kit-planted").exists()
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.shmget(SHM_KEY, 0, 0) < 0, "the run's shared memory is left in the host"
    finally:
        remove_host_leftovers()


@needs_root
def test_the_kernel_cannot_read_other_processes_command_lines(tmp_path):
    """Can student code list the host's processes or read a command line carrying a token?"""
    token = "kit-token-" + os.urandom(8).hex()
    other = subprocess.Popen(["/bin/sh", "-c", f"sleep 60; : {token}"])
    try:
        result = run(
            notebook(
                """\
                import os
                pids = [p for p in os.listdir("/proc") if p.isdigit()]
                print("visible processes:", len(pids))
                for pid in pids:
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as f:
                            print(pid, f.read().replace(b"\\0", b" ").decode(errors="replace"))
                    except OSError as exc:
                        print(pid, "refused", type(exc).__name__)
                """
            ),
            tmp_path,
        )
    finally:
        other.kill()
        other.wait()
    text = printed(result)
    assert "visible processes:" in text, text
    assert token not in text
    assert int(text.split("visible processes:")[1].split()[0]) <= 3, text


@needs_root
def test_a_reaped_daemon_is_named_without_its_command_line(tmp_path):
    """Does the report of a daemon left running quote nothing of its argv (which may hold a
    token the student found), only its short name, pid and state?"""
    token = "kit-token-" + os.urandom(8).hex()
    result = run(
        notebook(
            f"""\
            import subprocess, sys
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", {token!r}],
                             start_new_session=True)
            print("daemon started")
            """
        ),
        tmp_path,
    )
    assert "daemon started" in printed(result)
    assert len(result.reaped) == 1, result.reaped
    described = " ".join(result.notices) + " ".join(map(str, result.reaped))
    assert token not in described and "time.sleep" not in described
    assert result.reaped[0].name.startswith("python"), result.reaped
    assert "A background process started by your notebook" in described


def host_shm_used() -> int:
    """Bytes in use in the host's /dev/shm."""
    fs = os.statvfs("/dev/shm")
    return (fs.f_blocks - fs.f_bfree) * fs.f_frsize


@needs_root
@pytest.mark.parametrize("cgroup", [True, False], ids=["cgroup", "no-cgroup"])
def test_memory_written_into_memfds_and_dev_shm_counts_against_the_limit(
    tmp_path, monkeypatch, cgroup
):
    """Is a kernel that writes far past its memory limit into memfds and /dev/shm (memory no
    process maps) stopped with the out-of-memory message, leaving nothing in the host, both
    where a memory cgroup counts it and where the watcher has to find it itself?"""
    if cgroup:
        probe = create_memory_cgroup("kit-probe-" + os.urandom(4).hex(), 64)
        if probe is None:
            pytest.skip("no writable memory cgroup here")
        probe.remove()
    else:
        monkeypatch.setattr(
            sandbox.kernel_sandbox, "create_memory_cgroup", lambda name, limit_mb: None
        )
    limits = Limits(
        cell_timeout_s=30, total_timeout_s=90, interrupt_grace_s=1, memory_mb=400, max_restarts=1
    )
    before = host_shm_used()
    result = run(
        notebook(
            """\
            import os
            with open("/dev/shm/hoard", "wb") as f:
                f.write(b"x" * (100 << 20))
            chunk = b"y" * (16 << 20)
            fd = os.memfd_create("hoard")
            for i in range(96):  # 1.5 GB, never mapped
                os.write(fd, chunk)
            print("kept 1.6 GB")
            """,
            "print('after')",
        ),
        tmp_path,
        limits=limits,
    )
    text = printed(result)
    assert "kept 1.6 GB" not in text, text
    assert "OutOfMemoryError" in text and "400 MB memory limit" in text, text
    assert "after" in text
    assert host_shm_used() - before < 50 << 20, "shared memory of the run is left in the host"


@needs_root
def test_a_deep_tree_in_home_is_removed_and_the_lock_released(tmp_path):
    """Does a 1,500-level folder tree in the kernel's HOME still let the clean-up remove the
    kernel's folders and release the user's lock (no RecursionError, no next run waiting)?"""
    result = run(
        notebook(
            """\
            import os
            os.chdir(os.environ["HOME"])
            print("home", os.environ["HOME"])
            for _ in range(1500):
                os.mkdir("d")
                os.chdir("d")
            print("depth reached")
            """
        ),
        tmp_path,
    )
    text = printed(result)
    assert "depth reached" in text, text
    home = Path(text.split("home ")[1].split()[0])
    assert not home.exists() and not home.parent.parent.exists()  # HOME and the base folder
    lock = os.open(sandbox.paths._private_root_dir() / f"{USER}.lock", os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if still held
    finally:
        os.close(lock)


@needs_root
def test_a_crash_in_the_middle_of_a_run_releases_the_lock(tmp_path, monkeypatch):
    """After an exception inside execute_notebook (a grader bug mid-run), can the next grading
    with the same user take the lock at once, with no kernel process left?"""
    from autograder.execute import restarts

    def crash(*args, **kwargs):
        raise RuntimeError("a bug in the middle of the run")

    monkeypatch.setattr(restarts, "_run_attempt", crash)
    with pytest.raises(RuntimeError, match="a bug in the middle"):
        run(notebook("print(1)"), tmp_path)
    lock = os.open(sandbox.paths._private_root_dir() / f"{USER}.lock", os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(lock)
    uid = pwd.getpwnam(USER).pw_uid
    assert not [p for p in psutil.process_iter(["uids"]) if p.info["uids"].real == uid]


def test_a_deep_tree_is_removed_without_recursion(tmp_path):
    """Does remove_tree delete a 1,500-level tree that shutil.rmtree cannot?"""
    from autograder.disk import remove_tree

    top = tmp_path / "deep"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1500):  # relative to a descriptor: the whole path is far past PATH_MAX
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    os.symlink("/usr", top / "link-to-usr")  # never followed
    remove_tree(top)
    assert not top.exists()
    assert Path("/usr/bin").is_dir()


@needs_root
def test_a_capped_folder_refuses_what_passes_its_size_and_vanishes(tmp_path):
    """Does a capped folder end writes past its size with ENOSPC, and leave nothing behind?"""
    from autograder.disk import capped_folder

    with capped_folder(tmp_path / "cap", 8) as folder:
        assert folder.capped, folder.reason
        with pytest.raises(OSError) as caught, open(folder.path / "big", "wb") as f:
            f.write(b"z" * (16 << 20))
            f.flush()
        assert caught.value.errno == 28  # ENOSPC
    assert not (tmp_path / "cap").exists()


def test_a_capped_folder_says_so_where_mounting_is_refused(tmp_path, monkeypatch):
    """Where mounting is refused, is the folder still made, marked uncapped, and removed?"""
    from autograder import disk

    def refuse(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(disk, "_mount_tmpfs", refuse)
    with disk.capped_folder(tmp_path / "cap", 8, uid=os.getuid(), gid=os.getgid()) as folder:
        assert not folder.capped and folder.reason == "Operation not permitted"
        (folder.path / "f").write_text("x")
    assert not (tmp_path / "cap").exists()


@needs_root
def test_an_oom_kill_in_the_runs_cgroup_reads_as_the_memory_limit(tmp_path):
    """When memory grows faster than the watcher polls and the kernel's OOM killer ends the
    kernel inside the run's cgroup, is that reported as the memory limit, not as a crash?"""
    probe = create_memory_cgroup("kit-probe-" + os.urandom(4).hex(), 64)
    if probe is None:
        pytest.skip("no writable memory cgroup here")
    probe.remove()
    limits = Limits(cell_timeout_s=30, total_timeout_s=90, memory_mb=300, max_restarts=1)
    result = run(
        notebook(
            """\
            import mmap, os
            fd = os.memfd_create("fast")
            os.ftruncate(fd, 2 << 30)
            pages = mmap.mmap(fd, 2 << 30)  # shared: not counted by RLIMIT_DATA
            for i in range(0, 2 << 30, 4096):
                pages[i] = 1
            print("touched 2 GB")
            """,
            "print('after')",
        ),
        tmp_path,
        limits=limits,
    )
    assert [d.cause for d in result.kernel_deaths] == ["memory"], result.kernel_deaths
    assert result.notices[0].startswith("Cell 2 used more than the 300 MB memory limit")
    assert "touched 2 GB" not in printed(result) and "after" in printed(result)


@needs_root
def test_a_world_writable_folder_the_scan_missed_is_read_only(
    tmp_path, monkeypatch, world_writable_outside_tmp
):
    """Is the tree read-only for the kernel, so that a world-writable folder the grader's scan
    did not find (made after it, say) still cannot carry a file from one run to the next?"""
    monkeypatch.setattr(sandbox.launch, "world_writable_folders", lambda: ())
    result = run(
        notebook(
            f"""\
            try:
                open({str(world_writable_outside_tmp / "kit-planted")!r}, "w").write("x")
                print("written")
            except OSError as exc:
                print("refused", exc.errno)
            """
        ),
        tmp_path,
    )
    assert "refused 30" in printed(result), printed(result)  # EROFS
    assert not (world_writable_outside_tmp / "kit-planted").exists()


@needs_root
def test_filling_home_ends_in_enospc_there_and_the_rest_runs(tmp_path):
    """Does a kernel that writes past ``disk_mb`` into its HOME get "no space left" there (not
    on the grader's disk), with the next cells still run and scored?"""
    limits = Limits(cell_timeout_s=20, total_timeout_s=90, disk_mb=16)
    result = run(
        notebook(
            """\
            import os
            with open(os.path.join(os.environ["HOME"], "fill"), "wb") as f:
                for _ in range(64):
                    f.write(b"z" * (1 << 20))
            """,
            "print('after')",
        ),
        tmp_path,
        limits=limits,
    )
    text = printed(result)
    assert "No space left on device" in text and "after" in text, text
    assert result.kernel_deaths == ()


# ------------------------------------------------------------- without namespaces (permissions)
def permissions_only(monkeypatch) -> sandbox.Isolation:
    """The isolation a container without CAP_SYS_ADMIN gets: kernel user, file permissions."""
    monkeypatch.setattr(
        sandbox.isolation, "probe_namespaces", lambda: (False, "refused in this test")
    )
    isolation = sandbox.plan_isolation(None, USER)
    assert isolation.hidden_by == "file permissions"
    return isolation


class Leftovers:
    """What a kernel user can leave in shared places without namespaces, planted as that user:
    a SysV message queue and semaphore set, a folder tree in /var/tmp, a file in /dev/shm, a
    link in /tmp to a root file, and a file in the run's own working directory (to be kept)."""

    def __init__(self, workdir: Path, target: Path) -> None:
        tag = os.urandom(6).hex()
        self.key = int(tag[:7], 16)
        self.tree = Path(f"/var/tmp/kit-left-{tag}")
        self.shm_file = Path(f"/dev/shm/kit-left-{tag}")
        self.link = Path(f"/tmp/kit-left-link-{tag}")
        self.kept = workdir / f"kit-kept-{tag}"
        self.target = target
        self.libc = ctypes.CDLL(None, use_errno=True)

    def plant(self) -> None:
        def as_user() -> None:
            (self.tree / "a" / "b").mkdir(parents=True)
            (self.tree / "a" / "b" / "deep").write_text("left")
            self.shm_file.write_text("left")
            self.link.symlink_to(self.target)
            self.kept.write_text("the student's output")
            self.libc.msgget(self.key, 0o1000 | 0o600)  # IPC_CREAT
            self.libc.semget(self.key, 1, 0o1000 | 0o600)

        as_kernel_user(as_user)
        assert self.present() == ["tree", "shm file", "link", "msg", "sem"], self.present()
        assert self.kept.exists()

    def present(self) -> list[str]:
        found = [
            name
            for name, path in (
                ("tree", self.tree),
                ("shm file", self.shm_file),
                ("link", self.link),
            )
            if os.path.lexists(path)
        ]
        found += ["msg"] if self.libc.msgget(self.key, 0) >= 0 else []
        found += ["sem"] if self.libc.semget(self.key, 0, 0) >= 0 else []
        return found

    def remove(self) -> None:
        shutil.rmtree(self.tree, ignore_errors=True)
        self.shm_file.unlink(missing_ok=True)
        self.link.unlink(missing_ok=True)
        if (msg := self.libc.msgget(self.key, 0)) >= 0:
            self.libc.msgctl(msg, 0, None)  # IPC_RMID
        if (sem := self.libc.semget(self.key, 0, 0)) >= 0:
            self.libc.semctl(sem, 0, 0)


@needs_root
def test_without_namespaces_leftovers_go_before_and_after_a_run(tmp_path, monkeypatch):
    """A grader without namespaces died before its clean-up: its kernel user's SysV message
    queue and semaphore set, a folder tree in /var/tmp, a file in /dev/shm and a link to a root
    file are still there. Are they gone once the next sandbox with that user is set up, is what
    that run plants gone when it ends, and are the link's target and the run's own working
    directory kept?"""
    isolation = permissions_only(monkeypatch)
    target = tmp_path / "roots-file"
    target.write_text("root's")
    workdir = Path(tempfile.mkdtemp(prefix="kit-left-work-"))  # in /tmp, as the pipeline's
    os.chown(workdir, isolation.uid, isolation.gid)
    before, during = Leftovers(workdir, target), Leftovers(workdir, target)
    try:
        before.plant()
        with sandbox.KernelSandbox(isolation, workdir):
            assert before.present() == []
            during.plant()
        assert during.present() == []
        assert before.kept.exists() and during.kept.exists() and target.exists()
    finally:
        before.remove()
        during.remove()
        shutil.rmtree(workdir)


@needs_root
def test_a_grader_that_died_holding_a_hidden_path_does_not_keep_it_closed(monkeypatch):
    """A grader without namespaces hid a bundle and was killed before its clean-up (a batch
    worker's job cancelled). Does the next grading that hides it give the bundle its original
    mode back at the end, rather than the closed mode it found?"""
    isolation = permissions_only(monkeypatch)
    base = Path(tempfile.mkdtemp(prefix="kit-hidden-"))
    try:
        base.chmod(0o711)
        bundle = base / "bundle"
        bundle.mkdir(mode=0o755)
        workdirs = [base / "a", base / "b"]
        for folder in workdirs:
            folder.mkdir(mode=0o755)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child: hides the bundle, then dies without clean-up
            try:
                sandbox.KernelSandbox(isolation, workdirs[0], hide=[bundle]).__enter__()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert stat.S_IMODE(bundle.stat().st_mode) == 0o750, "the dead grader did not hide it"
        with sandbox.KernelSandbox(isolation, workdirs[1], hide=[bundle]):
            assert stat.S_IMODE(bundle.stat().st_mode) == 0o750
        assert stat.S_IMODE(bundle.stat().st_mode) == 0o755
    finally:
        shutil.rmtree(base, ignore_errors=True)


@needs_root
def test_a_hidden_path_inside_a_folder_bound_back_stays_hidden(tmp_path, monkeypatch):
    """The kit's checkout under /tmp (on PYTHONPATH, so the kernel gets it bound back into its
    private /tmp): do the hidden source notebook and bundle inside it stay hidden, or does the
    bind bring them back?"""
    kit = tmp_path / "kit"
    (kit / "bundle").mkdir(parents=True)
    (kit / "bundle" / "answers.txt").write_text("SECRET-ANSWERS")
    (kit / "source.ipynb").write_text("SECRET-SOURCE")
    for path in (tmp_path, kit, kit / "bundle"):
        os.chmod(path, 0o755)
    os.chmod(kit / "source.ipynb", 0o644)
    os.chmod(kit / "bundle" / "answers.txt", 0o644)
    pythonpath = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [pythonpath, str(kit)])))
    result = run(
        notebook(
            f"""\
            import os
            print("kit listed:", sorted(os.listdir({str(kit)!r})))
            for path in ({str(kit / "source.ipynb")!r}, {str(kit / "bundle" / "answers.txt")!r}):
                try:
                    print("read:", repr(open(path).read()))
                except OSError as exc:
                    print("refused:", type(exc).__name__)
            """
        ),
        tmp_path,
        hide=[kit / "source.ipynb", kit / "bundle"],
    )
    text = printed(result)
    assert "kit listed: ['bundle', 'source.ipynb']" in text, text  # bound back: the kernel sees it
    assert "SECRET" not in text, text
    assert "read: ''" in text and "refused: FileNotFoundError" in text, text
