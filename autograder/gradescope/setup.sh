#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image; the zip is unpacked
# in /autograder/source. Written by `python -m autograder package` (autograder/package.py).
#
# Environment (all optional; the tests use them, Gradescope sets none):
#   KIT_AUTOGRADER_ROOT          stands in for /autograder
#   KIT_GRADESCOPE_SKIP_INSTALL  1: skip apt and pip (steps 1-2); KIT_PYTHON then names a
#                                Python that already has requirements.txt installed
#   KIT_KERNEL_USER              the unprivileged user the notebook runs as (kitgrader)
set -euo pipefail

ROOT="${KIT_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KERNEL_USER="${KIT_KERNEL_USER:-kitgrader}"

if [ "${KIT_GRADESCOPE_SKIP_INSTALL:-0}" != "1" ]; then
    # 1. Python 3.11 (Ubuntu 22.04's universe has it; the base image's python3 is 3.10).
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv util-linux passwd
    # Data the notebooks read (Fashion-MNIST's original files, for one), listed by package.
    xargs -r apt-get install -y --no-install-recommends < "$SOURCE/apt-packages.txt"
    python3.11 -m venv "$ROOT/venv"
    # 2. The pinned requirements, with CPU builds of torch and torchvision: no GPU here, and
    #    the CUDA wheels are gigabytes the image would carry for nothing.
    "$ROOT/venv/bin/pip" install --no-cache-dir --upgrade pip
    "$ROOT/venv/bin/pip" install --no-cache-dir -r "$SOURCE/torch_requirements.txt" \
        --index-url https://download.pytorch.org/whl/cpu
    "$ROOT/venv/bin/pip" install --no-cache-dir -r "$SOURCE/requirements.txt"
fi

# 3. The unprivileged user the student's notebook runs as (the grader would create it on first
#    use too; creating it here keeps that out of every submission's time).
if ! id -u "$KERNEL_USER" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$KERNEL_USER"
fi

# 4. The kit's grading side (autograder + helpers, no solutions): readable by everyone, since
#    the kernel imports helpers and autograder.record; writable by root only.
rm -rf "$ROOT/kit"
cp -r "$SOURCE/kit" "$ROOT/kit"
chown -R root:root "$ROOT/kit"
find "$ROOT/kit" -type d -exec chmod 0755 {} +
find "$ROOT/kit" -type f -exec chmod 0644 {} +

# 5. The private bundle (source notebook, expected records, hidden labels): root only, 0700.
#    The grader also hides it (and this source folder) from the kernel's file tree.
rm -rf "$ROOT/private"
install -d -m 0700 -o root -g root "$ROOT/private"
cp -r "$SOURCE/private/." "$ROOT/private/"
chown -R root:root "$ROOT/private"
chmod -R go-rwx "$ROOT/private"
chmod 0700 "$SOURCE"
install -d -m 0755 -o root -g root "$ROOT/results"

echo "setup.sh: kit in $ROOT/kit, private bundle in $ROOT/private (root only)."
