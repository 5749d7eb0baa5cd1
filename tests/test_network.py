"""The real thing: one create against the real micromamba release and conda-forge, from
source and (with MAMBABOOT_TEST_EXE or a built dist/) frozen. Needs the internet, so it is
skipped unless pytest runs with ``--run-network``; CI's scheduled or hand-started
``network`` job runs ``pytest -m network --run-network``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Mambaboot

pytestmark = [pytest.mark.network, pytest.mark.slow]

PYTHON = "3.12"
# Passed through to mambaboot when set: a proxy or an extra CA is part of "the real
# internet" on some machines; the fixture's environment leaves them out.
PASSTHROUGH = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
               "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR")


def _network_env() -> dict[str, str]:
    return {k: os.environ[k] for k in PASSTHROUGH if k in os.environ}


@pytest.mark.timeout(1800)
def test_real_create(mambaboot: Mambaboot, tmp_path: Path) -> None:
    envs, cache, work = tmp_path / "envs", tmp_path / "cache", tmp_path / "work"
    work.mkdir()  # an empty working directory: no mambaboot.toml, no scripts folder
    env = _network_env()
    result = mambaboot("create", "net", PYTHON, "--envs-dir", str(envs), "--cache-dir",
                       str(cache), "--no-pause", "--yes", env=env, cwd=work, timeout=1380)
    assert result.code == 0, result.text

    prefix = envs / f"net_{PYTHON.replace('.', '_')}"
    receipt: dict[str, Any] = json.loads(
        (prefix / "conda-meta" / "mambaboot" / "receipt.json").read_text(encoding="utf-8"))
    assert receipt["complete"] is True, receipt

    ran = mambaboot("run", str(prefix), "--cache-dir", str(cache), "--", "python", "-c",
                    "import sys; print(sys.version)", env=env, cwd=work, timeout=240)
    assert ran.code == 0, ran.text
    assert ran.out.strip().startswith(f"{PYTHON}."), ran.text
