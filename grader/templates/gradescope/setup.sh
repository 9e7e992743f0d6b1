#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu; this
# zip is unpacked in /autograder/source). Written by `grader export gradescope`.

# The torch students' code is graded with: the version `grader export` ran with, where the
# course was validated. Gradescope has no GPU, so it comes from PyTorch's CPU wheel index:
# a few hundred MB instead of the multi-GB CUDA build that PyPI's torch pulls in.
TORCH_VERSION="@TORCH_VERSION@"
TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu"
# The Python the grader and students' code run on. Ubuntu 22.04's python3 is 3.10; if pip
# finds no torch $TORCH_VERSION for it, pick a newer base image (or another python here).
PYTHON=python3
# A virtual environment of its own: newer Ubuntus refuse `pip install` into the system
# Python. run_autograder looks for it here.
VENV=/usr/local/torch-grader

set -euxo pipefail
SOURCE="$(cd "$(dirname "$0")" && pwd)"
export DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

apt-get update
apt-get install -y --no-install-recommends "$PYTHON" "$PYTHON-venv"
# bubblewrap isolates students' code. Gradescope's container may not let it run (no user
# namespaces): the grader then falls back to a plain subprocess with resource limits, as
# a user of its own that cannot read the course or the results (the venv below is one
# every user can reach), and says so in the autograder's output (shown to instructors only).
apt-get install -y --no-install-recommends bubblewrap \
    || echo "setup.sh: bubblewrap could not be installed; students' code will run in a plain subprocess"

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
"$VENV/bin/python" -m pip install --index-url "$TORCH_INDEX_URL" "torch==$TORCH_VERSION"
"$VENV/bin/python" -m pip install "$SOURCE/torch-grader"

# Fail the build now, not every submission later, if the course does not grade here: the
# reference solutions must score full marks (this also says which sandbox students' code gets).
"$VENV/bin/python" -m grader --version
"$VENV/bin/python" -m grader doctor || true
"$VENV/bin/python" -m grader validate --course "$SOURCE/course" --seeds 1
