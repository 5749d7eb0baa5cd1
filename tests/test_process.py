"""Running children (bootstrap.process): captured runs end with the child, not with its
background grandchildren; attached (interactive) children are stopped one by one."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from bootstrap import process
from bootstrap.log import RunLog

pytestmark = pytest.mark.posix


def test_a_background_grandchild_does_not_hold_the_run(tmp_path: Path) -> None:
    started = time.monotonic()
    done = process.run(["bash", "-c", "sleep 20 & echo $!"], env=dict(os.environ),
                       log=RunLog(None), capture=True)
    assert done.returncode == 0
    assert time.monotonic() - started < 10
    os.kill(int(done.output), signal.SIGTERM)  # this test's grandchild only
    time.sleep(0.5)  # the reader thread sees the end of the output and closes the pipe


def test_interactive_children_are_stopped_one_by_one() -> None:
    """An attached child is not a group leader: SIGTERM goes to it alone."""
    proc = process._popen_attached([sys.executable, "-c", "import time; time.sleep(30)"],
                                   dict(os.environ), None)
    process._stop_one(proc)
    assert proc.poll() is not None
    assert json.dumps(proc.returncode)
