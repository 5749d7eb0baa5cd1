"""``micromamba shell`` hook/init/activate and ``activate`` outside a hook
(contract 2.3).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from .activation import (
    SCRIPT_EXT,
    activate,
    activation_root,
    changeps1,
    deactivate,
    detect_shell,
    emit_activation,
)
from .common import INIT_BEGIN, INIT_END, MambaError, log, quoted, say
from .config import Ctx, env_prefix, expand, explicit_root, home_dir, load_config, root_prefix


def cmd_shell_activate(ctx: Ctx, stack_cmd: str) -> int:
    load_config(ctx)
    shell = ctx.value("shell") or detect_shell()
    root = activation_root(ctx)
    environ = dict(os.environ)
    if stack_cmd == "deactivate":
        emit_activation(shell, deactivate(environ, SCRIPT_EXT[shell]))
        return 0
    base_root = root or root_prefix(ctx)
    arg = (ctx.positionals("prefix_or_name") or [""])[0]
    if stack_cmd == "reactivate":
        prefix = os.environ.get("CONDA_PREFIX") or base_root
    elif ctx.values.get("prefix") or (arg and re.search(r"[/\\]", arg)):
        prefix = expand(str(ctx.values.get("prefix") or arg))
    else:
        prefix = env_prefix(base_root, str(ctx.values.get("name") or arg or "base"))
    if not os.path.exists(prefix):
        raise MambaError(f"Cannot activate, prefix does not exist at: '{prefix}'")
    act = activate(prefix, root, environ, SCRIPT_EXT[shell], bool(ctx.values.get("stack")),
                   changeps1(ctx))
    emit_activation(shell, act)
    return 0


def self_exe() -> str:
    return os.path.realpath(sys.argv[0])


def hook_text(shell: str, root: str) -> str:
    exe = self_exe()
    if shell == "powershell":
        return (f"$MambaModuleArgs = @{{ChangePs1 = $True}}\n$Env:MAMBA_EXE='{exe}'\n"
                f"$Env:MAMBA_ROOT_PREFIX='{root}'\n")
    return f"""export MAMBA_EXE='{exe}';
export MAMBA_ROOT_PREFIX='{root}';
__mamba_name="$(basename "$MAMBA_EXE")"
case "$__mamba_name" in micromamba|mamba) ;;
  *) echo "Error unknown MAMBA_EXE: \\"$MAMBA_EXE\\", filename must be mamba or micromamba" 1>&2;;
esac
__mamba_exe() (
    "$MAMBA_EXE" "$@"
)
__mamba_activate() {{
    \\local ask_conda
    ask_conda="$(PS1="${{PS1:-}}" __mamba_exe shell "$@" --shell {shell})" || \\return
    \\eval "$ask_conda"
    \\hash -r
}}
micromamba() {{
    case "${{1:-}}" in
        activate|reactivate|deactivate) __mamba_activate "$@" ;;
        *) __mamba_exe "$@" ;;
    esac
}}
if [ -z "${{CONDA_SHLVL+x}}" ]; then
    \\export CONDA_SHLVL=0
    export PATH="${{MAMBA_ROOT_PREFIX}}/condabin:${{PATH}}"
fi
"""


def write_cmdexe_files(root: str) -> None:
    exe = self_exe()
    files = {
        "condabin/micromamba.bat": f'@SET "MAMBA_EXE={exe}"\n@SET "MAMBA_ROOT_PREFIX={root}"\n'
                                   '@CALL "%~dp0_micromamba_activate.bat" %*\n',
        "condabin/_micromamba_activate.bat": f'@SET "MAMBA_EXE={exe}"\n',
        "condabin/activate.bat": '@CALL "%~dp0micromamba.bat" activate %*\n',
        "Scripts/activate.bat": '@CALL "%~dp0..\\condabin\\micromamba.bat" activate %*\n',
        "condabin/mamba_hook.bat": f'@SET "MAMBA_EXE={exe}"\n@SET "MAMBA_ROOT_PREFIX={root}"\n'
                                   '@DOSKEY micromamba="%MAMBA_EXE%" $*\n',
    }
    for rel, text in files.items():
        path = Path(root, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def cmd_shell_hook(ctx: Ctx) -> int:
    load_config(ctx)
    shell = ctx.value("shell") or detect_shell()
    root = explicit_root(ctx) or root_prefix(ctx)
    if shell == "cmd.exe":
        write_cmdexe_files(root)
        hook = os.path.join(root, "condabin", "mamba_hook.bat")
        log("warning", f"Hook installed, now 'manually' execute:\nCALL {quoted(hook)}")
        return 0
    sys.stdout.write(hook_text(shell, root))
    return 0


def rc_file_for(shell: str) -> Path:
    home = home_dir()
    files = {"bash": ".bash_profile" if sys.platform == "darwin" else ".bashrc", "zsh": ".zshrc",
             "xonsh": ".xonshrc", "tcsh": ".tcshrc", "fish": ".config/fish/config.fish",
             "powershell": ".config/powershell/profile.ps1", "nu": ".config/nushell/config.nu",
             "posix": ".profile", "dash": ".profile"}
    if shell == "zsh" and os.environ.get("ZDOTDIR"):
        return Path(os.environ["ZDOTDIR"], ".zshrc")
    if shell not in files:
        raise MambaError(f"Shell '{shell}' is not supported on this platform")
    return Path(home, files[shell])


def init_block(shell: str, root: str) -> str:
    exe = self_exe()
    body = [f"export MAMBA_EXE='{exe}';", f"export MAMBA_ROOT_PREFIX='{root}';",
            f'__mamba_setup="$("$MAMBA_EXE" shell hook --shell {shell} --root-prefix '
            '"$MAMBA_ROOT_PREFIX" 2> /dev/null)"', "if [ $? -eq 0 ]; then",
            '    eval "$__mamba_setup"', "else",
            '    alias micromamba="$MAMBA_EXE"  # Fallback on help from micromamba activate',
            "fi", "unset __mamba_setup"]
    return "\n".join([INIT_BEGIN, "# !! Contents within this block are managed by "
                      "'micromamba shell init' !!", *body, INIT_END])


def strip_block(text: str) -> str:
    return re.sub(re.escape(INIT_BEGIN) + r".*?" + re.escape(INIT_END) + r"\n?", "", text,
                  flags=re.DOTALL)


def cmd_shell_init(ctx: Ctx, action: str) -> int:
    load_config(ctx)
    shell = ctx.value("shell") or detect_shell()
    root = explicit_root(ctx) or root_prefix(ctx)
    shells = [shell]
    if action == "reinit":
        shells = [s for s in ("bash", "zsh", "fish", "xonsh", "tcsh", "powershell")
                  if ctx.value("shell") in (None, s) and rc_file_for(s).is_file()
                  and INIT_BEGIN in rc_file_for(s).read_text(encoding="utf-8")]
    for name in shells:
        rc = rc_file_for(name)
        old = rc.read_text(encoding="utf-8") if rc.is_file() else ""
        if action == "deinit":
            say(f"Removing the following in your {quoted(str(rc))} file\n")
            if rc.is_file():
                rc.write_text(strip_block(old), encoding="utf-8")
            continue
        block = init_block(name, root)
        say(f"Modifying RC file {quoted(str(rc))}\nGenerating config for root prefix "
            f"{quoted(root)}\nSetting mamba executable to: {quoted(self_exe())}\n"
            f"Adding (or replacing) the following in your {quoted(str(rc))} file\n\n{block}")
        rc.parent.mkdir(parents=True, exist_ok=True)
        kept = strip_block(old)
        rc.write_text(kept + ("\n" if kept and not kept.endswith("\n") else "") + block + "\n",
                      encoding="utf-8")
        Path(root, "etc", "profile.d").mkdir(parents=True, exist_ok=True)
        Path(root, "etc", "profile.d", "mamba.sh").write_text(hook_text("bash", root),
                                                              encoding="utf-8")
    return 0


def cmd_activate_subprocess(ctx: Ctx) -> int:
    shell = detect_shell()
    sys.stdout.write(
        "\n'micromamba' is running as a subprocess and can't modify the parent shell.\n"
        "Thus you must initialize your shell before using activate and deactivate.\n\n"
        f"To initialize the current {shell} shell, run:\n"
        f'    $ eval "$(micromamba shell hook --shell {shell})"\n'
        "and then activate or deactivate with:\n    $ micromamba activate\n"
        f"To automatically initialize all future ({shell}) shells, run:\n"
        f"    $ micromamba shell init --shell {shell} --root-prefix=~/.local/share/mamba\n"
        "If your shell was already initialized, reinitialize your shell with:\n"
        f"    $ micromamba shell reinit --shell {shell}\n"
        "Otherwise, this may be an issue. In the meantime you can run commands. See:\n"
        "    $ micromamba run --help\n\n"
        "Supported shells are {bash, zsh, csh, posix, xonsh, cmd.exe, powershell, fish, nu}.\n")
    raise MambaError("Shell not initialized")
