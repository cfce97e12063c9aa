"""One live run per folder, and no manual `--unlock` after a crash: `claimflow run`.

Snakemake's lock (files under `.snakemake/locks/`) says that a run started, not that it is
alive: a run killed with SIGKILL, by the OOM killer or a node failure leaves it behind, and
the next run refuses to start until someone runs `--unlock`, a command that also unlocks a run
that is alive. The kernel knows better: a `flock` is released the moment its holder dies,
however it dies. So:

- every Snakemake main process of this workflow holds a shared flock on
  `.snakemake/claimflow-run.lock` from the moment it parses the workflow (rules/common.smk);
- `claimflow run ARGS` takes that flock exclusively, without waiting, and keeps it for the
  whole run (it execs Snakemake, which inherits it). If it cannot, a Snakemake process is
  alive in this folder: it refuses with that process's pid and command line. If it can,
  nothing else is alive here, so a Snakemake lock on disk was left by a dead run: it runs
  `snakemake --unlock` with the same arguments, then the run itself.

Dry runs and `--nolock` runs (two runs sharing a folder on purpose: pacing still holds across
them, under the per-account file lock) skip the exclusive flock and go straight to Snakemake.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
from pathlib import Path

LOCK_NAME = "claimflow-run.lock"
HELD_ENV = "CLAIMFLOW_RUN_LOCK_HELD"  # set by `claimflow run` for its Snakemake: it holds the lock
EXIT_REFUSED = 2
# Options after which Snakemake neither writes outputs nor takes its lock, or shares the folder.
_NO_LOCK = {"-n", "--dry-run", "--dryrun", "--nolock", "--unlock", "--lint", "--list", "-l", "--list-rules",
            "--summary", "-S", "--detailed-summary", "-D", "--dag", "--rulegraph", "--filegraph", "--help",
            "-h", "--version", "-v", "--report", "--cleanup-metadata", "--list-changes", "--lc", "--list-code-changes",
            "--list-params-changes", "--list-input-changes", "--list-untracked", "--lu"}  # fmt: skip


def hold_shared(folder: str | Path = ".snakemake") -> int | None:
    """Called by the workflow's main process at parse time: register this process as alive here.

    Returns the descriptor (kept open for the process's life), or None when `claimflow run`
    already holds the lock for this process, or another run holds it exclusively (then
    Snakemake's own lock decides, as it always did).
    """
    if os.environ.get(HELD_ENV) == str(os.getpid()):
        return None
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return None  # a read-only folder: nothing will be written here either
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def workdir_of(args: list[str]) -> Path:
    """The folder Snakemake will run in: `--directory`/`-d` among the arguments, else here."""
    for i, arg in enumerate(args):
        if arg in ("-d", "--directory") and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--directory="):
            return Path(arg.split("=", 1)[1])
    return Path(".")


_SHORT_FLAGS_WITH_N = re.compile(r"-[pqrkF]*n[pqrkF]*")  # -np, -pn, -nq ...: a dry run


def needs_exclusive(args: list[str]) -> bool:
    return not any(arg in _NO_LOCK or arg.startswith("--dry") or _SHORT_FLAGS_WITH_N.fullmatch(arg) for arg in args)


def live_runs(workdir: Path) -> list[str]:
    """'pid: command line' of each Snakemake process whose working directory is `workdir`."""
    found = []
    target = str(workdir.resolve())
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "cwd") != target:
                continue
            argv = [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if any("snakemake" in os.path.basename(a) for a in argv[:3]):
            found.append(f"{entry.name}: {' '.join(argv)}")
    return found


def stale_snakemake_lock(workdir: Path) -> bool:
    locks = workdir / ".snakemake" / "locks"
    return locks.is_dir() and any(locks.iterdir())


def refusal(workdir: Path) -> str:
    runs = live_runs(workdir)
    who = "; ".join(runs) if runs else "a process on another host, or one this user cannot see"
    return (
        f"claimflow: another Snakemake run is alive in {workdir.resolve()} ({who}). Two runs on one "
        "results folder would download and write the same files. Wait for it to end (`claimflow "
        "status` shows it), or stop it (kill -TERM <pid>: it finishes cleanly). To run beside it on "
        "purpose, add --nolock: pacing still holds across both runs."
    )


def launch(args: list[str], python: str = sys.executable) -> int:
    """`claimflow run ARGS`: Snakemake with ARGS, after the checks above. Returns only on refusal
    or failure of the unlock; otherwise the process becomes Snakemake."""
    command = [python, "-m", "snakemake", *args]
    if not needs_exclusive(args):
        os.execv(python, command)
    workdir = workdir_of(args)
    folder = workdir / ".snakemake"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(refusal(workdir), file=sys.stderr)
        return EXIT_REFUSED
    env = dict(os.environ)
    if stale_snakemake_lock(workdir):
        # Nothing is alive here (every run of this workflow holds the flock), so the lock is a
        # dead run's. Snakemake's own --unlock removes it, whatever its storage.
        env[HELD_ENV] = "unlock"  # the unlock's parse finds the flock taken: it registers nothing
        unlocked = subprocess.run([*command, "--unlock"], env=env, capture_output=True, text=True)
        if unlocked.returncode:
            print(unlocked.stdout + unlocked.stderr, file=sys.stderr)
            return unlocked.returncode
        print("claimflow: removed the lock a stopped run left behind (no other run is alive here)",
              file=sys.stderr)  # fmt: skip
    os.set_inheritable(fd, True)  # Snakemake keeps the exclusive lock until it ends
    env[HELD_ENV] = str(os.getpid())  # exec keeps the pid: the workflow sees it holds the lock
    os.execve(python, command, env)
    return 0  # not reached
