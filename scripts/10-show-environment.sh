#!/usr/bin/env bash
# Example post-install script (Linux/macOS). It runs inside the activated environment,
# in the folder of mambaboot.toml. A non-zero exit stops mambaboot (exit code 8); the next
# run resumes at this script.
set -euo pipefail
echo "Environment: $CONDA_PREFIX"
echo "python:      $(command -v python) ($(python --version 2>&1))"
echo "conda:       $(command -v conda)"
echo "mamba:       $(command -v mamba)"
# Install more packages with the environment's own tools, for example:
#   mamba install -y -c conda-forge numpy
