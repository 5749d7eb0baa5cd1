"""doctor (DESIGN section 6): gather the facts, run the checks of ``checks``, and for an
environment check that it activates with python resolving inside it."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bootstrap import checks, fsutil
from bootstrap.activation import Activation
from bootstrap.checks import FAIL, OK, WARN, Check
from bootstrap.errors import BootstrapError
from bootstrap.log import RunLog
from bootstrap.settings import Settings
from bootstrap.verify import verify

PROBE_TIMEOUT_S = 10.0


def run_checks(settings: Settings, env: Mapping[str, str], prefix: Path | None,
               log: RunLog, offline: bool = False) -> list[Check]:
    found = [checks.inherited_variables(env)]
    for label, folder in (("envs folder", settings.envs_dir), ("cache", settings.cache_dir)):
        found.append(checks.filesystem(label, fsutil.filesystem_type(folder)))
        found.append(checks.path_hazards(label, str(folder)))
    if settings.platform.is_windows:
        from bootstrap import windows

        facts = checks.WindowsFacts.read(env, settings.platform)
        found.append(checks.path_budget(settings.prefix, settings.pkgs_dir, settings.channels,
                                        settings.subdir, facts.long_paths_enabled))
        found.append(checks.autorun(facts.autorun))
        found.append(checks.appdata_mamba(facts.appdata_mamba, facts.appdata_mamba_exists))
        found.append(checks.code_page(windows.console_code_page()))
    found.append(temp_runs_programs(settings))
    if not offline:
        found += reachability(settings)
    if prefix is not None:
        found.append(environment(prefix, settings, env, log))
    return found


def temp_runs_programs(settings: Settings) -> Check:
    """Can a program extracted to the temp folder run (noexec mounts, WDAC/AppLocker)?
    mambaboot.exe itself unpacks there (constructor#1243)."""
    suffix, text = (".bat", "@EXIT /B 0\r\n") if settings.platform.is_windows \
        else (".sh", "#!/bin/sh\nexit 0\n")
    with tempfile.TemporaryDirectory(prefix="mambaboot-") as tmp:
        probe = Path(tmp) / f"probe{suffix}"
        probe.write_text(text, encoding="ascii")
        probe.chmod(0o755)
        argv = ["cmd.exe", "/D", "/C", str(probe)] if settings.platform.is_windows \
            else [str(probe)]
        try:
            ok = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT_S,
                                check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired) as err:
            return Check("temp folder", FAIL, f"{tempfile.gettempdir()}: cannot run a "
                         f"program there ({err})",
                         "Set TMP/TEMP (TMPDIR) to a folder where programs may run; "
                         "application-control policies often block the temp folder.")
    if ok:
        return Check("temp folder", OK, f"{tempfile.gettempdir()} can run programs")
    return Check("temp folder", FAIL, f"a program in {tempfile.gettempdir()} did not run",
                 "Set TMP/TEMP (TMPDIR) to a folder where programs may run.")


def reachability(settings: Settings) -> list[Check]:
    """Proxy and TLS: can the micromamba download host and the channels be reached, with
    the network settings create uses? The download is checked only when create would
    download (https unless --allow-http); channels are fetched by micromamba itself, over
    http or https as configured, so mambaboot's https-only rule does not apply to them."""
    from bootstrap import download
    from bootstrap.micromamba import describe_source

    opts = download.NetOptions.from_env(dict(os.environ), allow_http=settings.allow_http,
                                        ca_bundle=settings.ca_bundle)
    opts = dataclasses.replace(opts, connect_timeout_s=min(opts.connect_timeout_s,
                                                           PROBE_TIMEOUT_S),
                               read_timeout_s=min(opts.read_timeout_s, PROBE_TIMEOUT_S),
                               retries=0)
    source = describe_source(settings)
    urls = {"micromamba download": (settings.micromamba.download_url(settings.subdir), opts)}
    for channel in settings.channels:
        base = checks.channel_url(channel)
        urls[f"channel {channel}"] = (f"{base.rstrip('/')}/noarch/repodata.json",
                                      dataclasses.replace(opts, allow_http=True))
    found = []
    for label, (url, url_opts) in urls.items():
        if label == "micromamba download" and not source.startswith("download"):
            found.append(Check(f"reach {label}", OK, f"not needed: {source}"))
            continue
        if url.startswith("file:"):
            continue
        try:
            download.probe(url, url_opts)
        except BootstrapError as err:
            found.append(Check(f"reach {label}", FAIL, err.message, err.hint))
        else:
            found.append(Check(f"reach {label}", OK, url))
    return found


def environment(prefix: Path, settings: Settings, env: Mapping[str, str],
                log: RunLog) -> Check:
    """ENV activates and python resolves inside it."""
    try:
        act = Activation.load(prefix, settings.platform, env)
        checked = verify(act, settings.platform, None, (), log)
    except BootstrapError as err:
        return Check(f"environment {prefix.name}", FAIL, err.message, err.hint)
    status = WARN if act.warnings else OK
    return Check(f"environment {prefix.name}", status,
                 f"activates; python {checked.version} at {checked.python}",
                 " ".join(act.warnings))
