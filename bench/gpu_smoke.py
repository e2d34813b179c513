"""GPU smoke test: grade one submission on the GPU through the batch path; print the device the
kernel saw and the time.

    .venv/bin/python bench/gpu_smoke.py            # on a machine with an NVIDIA GPU, as root
    .venv/bin/python bench/gpu_smoke.py --gpu 1    # another GPU
    .venv/bin/python bench/gpu_smoke.py --cpu      # rehearsal without a GPU (same steps on CPU)

What it exercises, end to end: ``python -m autograder batch --gpus <id>`` starts one worker
whose grader gives the kernel its GPU (its ``/dev`` holds that GPU's node ``/dev/nvidia<minor>``
and the control nodes only, ``CUDA_VISIBLE_DEVICES`` its UUID: autograder.sandbox.gpus);
the sandbox sees a GPU and so sets no RLIMIT_DATA (CUDA needs its
large private mappings; the memory watch still applies); the notebook runs ``torch`` on
``DEVICE = "cuda"``. The assignment is the toy one (tests/toy_assignment.py) with its answer
computed by torch on ``DEVICE``; a visible test prints ``KIT_GPU_SMOKE`` with the device name
and fails unless CUDA is available to the kernel, so full marks mean the kernel really used the
GPU. Exit code 0 when it did.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import toy_assignment as toy

from autograder import pipeline
from autograder.config import load_assignment

Q1 = (
    "def add(a, b):\n    ### BEGIN SOLUTION\n    import torch\n    device = torch.device(DEVICE)\n"
    "    total = torch.as_tensor(a, device=device) + torch.as_tensor(b, device=device)\n"
    "    return total.cpu().numpy()\n    ### END SOLUTION"
)
SOLVED_Q1 = Q1.replace("    ### BEGIN SOLUTION\n", "").replace("\n    ### END SOLUTION", "")
PROBE = (
    "import os, torch\n"
    "seen = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device'\n"
    "nodes = sorted(n for n in os.listdir('/dev') if n.startswith('nvidia'))\n"
    "print('KIT_GPU_SMOKE', DEVICE, '|', seen, '| CUDA_VISIBLE_DEVICES =',\n"
    "      os.environ.get('CUDA_VISIBLE_DEVICES'), '| devices =', torch.cuda.device_count(),\n"
    "      '| /dev:', ' '.join(nodes))\n"
    "assert DEVICE == 'cpu' or torch.cuda.is_available(), 'the kernel sees no GPU'\n"
)
LIMITS = """\
[limits]
cell_timeout_s = 300
total_timeout_s = 600
memory_mb = 8192
max_processes = 256
"""


def make_root(root: Path) -> Path:
    """The toy assignment with torch on DEVICE in its first answer and a GPU probe."""
    toy.make_root(root)
    config = root / "assignments" / toy.NAME / "assignment.toml"
    config.write_text(config.read_text().split("[limits]")[0] + LIMITS)
    source = toy.notebook(q1=Q1, t1=PROBE + toy.T1)
    release = toy.notebook(toy.Q1_BLANK, toy.Q2_BLANK, PROBE + toy.T1_VISIBLE, toy.T2_VISIBLE)
    nbformat.write(source, root / "source" / toy.NAME / "toy.ipynb")
    nbformat.write(release, root / "release" / toy.NAME / "toy.ipynb")
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", default="0", help="the GPU id to grade on (default: 0)")
    parser.add_argument("--cpu", action="store_true", help="rehearse on the CPU (no GPU needed)")
    args = parser.parse_args()
    device = "cpu" if args.cpu else "cuda"
    if not args.cpu and not Path("/dev/nvidiactl").exists():
        print("No NVIDIA GPU here (/dev/nvidiactl is missing). Run this on a GPU machine, or "
              "rehearse with --cpu.", file=sys.stderr)  # fmt: skip
        return 2
    with tempfile.TemporaryDirectory(prefix="kit-gpu-smoke-") as tmp:
        tmp = Path(tmp)
        root = make_root(tmp / "kit")
        os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
        started = time.perf_counter()
        pipeline.build(load_assignment(toy.NAME, root), device=device)
        build_s = time.perf_counter() - started
        toy.student(tmp / "subs" / "student" / "toy.ipynb", q1=SOLVED_Q1,
                    q2="def scale(x, k):\n    return x * k")  # fmt: skip
        command = [sys.executable, "-m", "autograder", "batch", toy.NAME, str(tmp / "subs"),
                   "--out", str(tmp / "out"), "--root", str(root)]  # fmt: skip
        command += [] if args.cpu else ["--gpus", args.gpu]
        started = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True)
        wall_s = time.perf_counter() - started
        folder = tmp / "out" / "student"
        status = json.loads((folder / "status.json").read_text())
        results = json.loads((folder / "results.json").read_text()) if (
            folder / "results.json"
        ).is_file() else {}  # fmt: skip
        pages = "".join(p.read_text() for p in (folder / "feedback").glob("*.html"))
        text = html.unescape(re.sub(r"<[^>]+>", "", pages))
        seen = re.search(r"KIT_GPU_SMOKE ([^\n]*)", text)
    print(f"device asked: {device}" + ("" if args.cpu else f" (GPU {args.gpu})"))
    print(f"the kernel saw: {seen[1].strip() if seen else '(no probe output: see below)'}")
    print(f"kernel user: {status['kernel_user']}; exit code {status['exit_code']}; "
          f"score {results.get('score')} of {status.get('max_score')}")  # fmt: skip
    print(f"build (source run) {build_s:.1f} s; grading {status['elapsed_s']:.1f} s; "
          f"whole batch command {wall_s:.1f} s")  # fmt: skip
    if status["exit_code"] != 0:
        print(run.stdout[-3000:] + run.stderr[-3000:])
        for test in results.get("tests", []):
            print(f"  {test['name']}: {test['status']}: {test['output'][:300]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
