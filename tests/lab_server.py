"""Start a real JupyterLab server for a test, on a free localhost port, and stop it.

Started the way the README starts it (`.venv/bin/jupyter lab` from the course folder), with the
venv's bin folder *not* on PATH, so that a fix that only works in an activated venv is caught.
Used by tests/test_formgrader.py and tests/test_browser.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
STARTUP_TIMEOUT_S = 120  # measured 4-8 s on a busy 2-core machine; a cold disk cache is slower
TOKEN = "kit-test-token"


@dataclass
class Server:
    """A running server: ``url`` is ``http://127.0.0.1:<port>``; ``log`` its captured output."""

    url: str
    log: Path

    def get(self, path: str, *, timeout: float = 60) -> tuple[int, str]:
        """GET ``path`` (token-authenticated): the HTTP status and the body as text."""
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"token {TOKEN}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def get_json(self, path: str) -> object:
        status, body = self.get(path)
        assert status == 200, f"GET {path}: {status}\n{body[-2000:]}\n{self.log_text()}"
        return json.loads(body)

    def log_text(self) -> str:
        """The server's output so far (the last 4,000 characters), for assertion messages."""
        return self.log.read_text(errors="replace")[-4000:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(
    root: Path, *, log: Path, env: dict[str, str] | None = None, extra: tuple[str, ...] = ()
) -> Iterator[Server]:
    """Run `jupyter lab` in ``root`` until the block ends; output goes to ``log``."""
    port = free_port()
    base_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("JUPYTER", "JPY_", "KIT_NUM"))
    }
    # The venv not activated: PATH without its bin folder, as `.venv/bin/jupyter lab` gets it.
    base_env["PATH"] = os.pathsep.join(
        part
        for part in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        if Path(part) != VENV_BIN
    )
    # Jupyter's runtime and user data in the test's folder, not in the shared ~/.local.
    base_env["JUPYTER_RUNTIME_DIR"] = str(log.parent / "jupyter-runtime")
    base_env["JUPYTERLAB_WORKSPACES_DIR"] = str(log.parent / "jupyter-workspaces")
    base_env["JUPYTERLAB_SETTINGS_DIR"] = str(log.parent / "jupyter-settings")
    base_env.update(env or {})
    command = [
        str(VENV_BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--port-retries=0", f"--IdentityProvider.token={TOKEN}",
        "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=", *extra,
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")  # CI and these machines run as root
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=root, env=base_env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = Server(url=f"http://127.0.0.1:{port}", log=log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                exited = f"jupyter lab exited ({process.returncode})"
                raise AssertionError(f"{exited}:\n{server.log_text()}")
            with contextlib.suppress(OSError):
                if server.get("/api/status", timeout=5)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"jupyter lab did not answer in {STARTUP_TIMEOUT_S} s")
            time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        # Kernels it started are in its session (start_new_session): end what is left of it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, 9)
