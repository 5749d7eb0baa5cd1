"""Errors a user can act on, each carrying its documented exit code (README, "Exit codes")."""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_NETWORK = 4
EXIT_CHECKSUM = 5
EXIT_MICROMAMBA = 6
EXIT_ACTIVATION = 7
EXIT_SCRIPT = 8
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class BootstrapError(Exception):
    """Base of every error mambaboot reports to the user.

    The message says what failed, where, and what to do next; ``exit_code`` is the
    documented process exit code.
    """

    exit_code = EXIT_UNEXPECTED

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ConfigError(BootstrapError):
    """Bad command line, config file or environment variable (exit 2)."""

    exit_code = EXIT_USAGE


class RefusedError(BootstrapError):
    """Preflight refused to go on: dirty shell with --strict, or foreign content (exit 3)."""

    exit_code = EXIT_REFUSED


class DownloadError(BootstrapError):
    """Network or TLS failure (exit 4)."""

    exit_code = EXIT_NETWORK


class ChecksumError(BootstrapError):
    """A file does not match its expected sha256 (exit 5)."""

    exit_code = EXIT_CHECKSUM


class MicromambaError(BootstrapError):
    """micromamba could not be started or failed (exit 6)."""

    exit_code = EXIT_MICROMAMBA


class ActivationError(BootstrapError):
    """The activated environment does not resolve to the prefix (exit 7)."""

    exit_code = EXIT_ACTIVATION


class ScriptError(BootstrapError):
    """A post-install script failed (exit 8)."""

    exit_code = EXIT_SCRIPT


class Interrupted(BootstrapError):
    """Ctrl+C, console close or SIGTERM: children stopped, receipt left incomplete."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str = "Interrupted.", *, exit_code: int = EXIT_INTERRUPTED) -> None:
        super().__init__(message, hint="Run the same command again to resume where it stopped.")
        self.exit_code = exit_code
