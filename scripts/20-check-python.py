"""Example post-install script, run by the environment's own Python on every platform."""

import os
import sys

prefix = os.environ["CONDA_PREFIX"]
print(f"sys.prefix = {sys.prefix}")
if os.path.realpath(sys.prefix) != os.path.realpath(prefix):
    sys.exit(f"expected the environment's Python, got {sys.executable}")
print(f"MAMBABOOT_UNATTENDED = {os.environ.get('MAMBABOOT_UNATTENDED')}")
