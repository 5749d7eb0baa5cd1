"""The real micromamba served like a release (contract 1.1), and a channel whose ``python``
package works with it, so that end-to-end tests can run against the real binary too.

Minimal on purpose (one binary, one platform): the update tests use it; the conformance
layer (tests/standin/realmm.py, realpkgs.py) finds the binary the same way and builds a
channel of real packages. The binary is read where it is and served from the loopback
server; mambaboot downloads and verifies it as usual.
"""

from __future__ import annotations

import sys

from tests.standin import realmm
from tests.standin.channel import Package, default_packages, host_subdir, running_python_version

REAL_PLATFORM = "linux-64"


def unavailable() -> str | None:
    """Why the real micromamba cannot run here, or None."""
    if host_subdir() != REAL_PLATFORM:
        return f"the real micromamba here is for {REAL_PLATFORM}, this is {host_subdir()}"
    if realmm.real_binary() is None:
        return realmm.skip_reason()
    return None


def real_python_package() -> Package:
    """``python`` for the real micromamba: its post-link script (run by micromamba with
    ``PREFIX`` set, contract 4.5) makes the prefix a venv of the Python running the tests,
    so ``PREFIX/bin/python`` has ``sys.prefix == PREFIX``."""
    version = running_python_version()
    major_minor = ".".join(version.split(".")[:2])
    post_link = (f'"{sys.executable}" -I -m venv --without-pip "$PREFIX"\n'
                 'rm -f "$PREFIX"/bin/activate* "$PREFIX"/bin/Activate.ps1\n')
    return Package("python", version, f"h{major_minor.replace('.', '')}_0_cpython",
                   subdir=REAL_PLATFORM, post_link=post_link,
                   files={f"lib/python{major_minor}/standin-python.txt": b"real-run python\n"})


def real_packages(extra: list[Package]) -> list[Package]:
    """The default test packages (they hold the ``pip`` micromamba adds to python's
    dependencies, contract Appendix E) with a working python, and ``extra``."""
    kept = [p for p in default_packages() if p.name != "python"]
    return [*kept, real_python_package(), *extra]
