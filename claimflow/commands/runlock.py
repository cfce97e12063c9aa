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
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from claimflow.core import atomic
from claimflow.core import config as cf_config
from claimflow.core.config import EXIT_BAD_INPUT
from claimflow.llm.budget import EXIT_BUDGET

LOCK_NAME = "claimflow-run.lock"
HELD_ENV = "CLAIMFLOW_RUN_LOCK_HELD"  # set by `claimflow run` for its Snakemake: "parent:<its pid>"
# Where the workflow leaves its closing lines (collections, the counted last line) and exit
# status for `claimflow run` to print after Snakemake's own last lines.
CLOSING_NAME = "claimflow-closing.json"
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
    if under_launcher():
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


def under_launcher() -> bool:
    """Whether this process is the Snakemake that `claimflow run` started (it holds the lock
    for it, and prints the closing lines after Snakemake's)."""
    return os.environ.get(HELD_ENV) == f"parent:{os.getppid()}"


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (its jobs and theirs), from /proc; [] where there is none."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            # /proc/<pid>/stat: "pid (comm) state ppid ...": the command may hold spaces and ')'
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


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
            found.append(_claimflow_parent(entry) or f"{entry.name}: {' '.join(argv)}")
    return found


def _claimflow_parent(snakemake: Path) -> str | None:
    """'pid: command line' of the `claimflow run` that started this Snakemake, if one did: the
    process a user stops (it passes the signal on and prints the closing lines)."""
    try:
        ppid = next(line.split()[1] for line in (snakemake / "status").read_text().splitlines()
                    if line.startswith("PPid:"))  # fmt: skip
        argv = [a.decode(errors="replace") for a in Path(f"/proc/{ppid}/cmdline").read_bytes().split(b"\0") if a]
    except (OSError, StopIteration, IndexError):
        return None
    if "run" in argv and any(a.startswith("claimflow") or os.path.basename(a) == "claimflow" for a in argv[:3]):
        return f"{ppid}: {' '.join(argv)}"
    return None


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


FREE_SPACE = "free space on that disk and run the same command again; nothing done is lost"


def no_space(folder: str | Path) -> str | None:
    """'no space left in FOLDER (N MB free)' when its disk is full (or nearly), else None."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    return f"no space left in {folder} ({free / 2**20:.1f} MB free)" if free < 16 * 2**20 else None


class Stop:
    """How the workflow's main process stops: installed by its onstart, after Snakemake's own
    scheduler set its SIGTERM handler, which only stops new jobs from starting and then waits
    for the running ones (a pacing gap of minutes, a transcription of twenty), until a
    supervisor's SIGKILL. Here SIGTERM stops as Ctrl-C does: each job process gets SIGINT (it
    logs that it was interrupted, its `finally` blocks run) and Snakemake terminates them. The
    next run redoes them (rerun-incomplete)."""

    interrupted = False

    @classmethod
    def install(cls) -> None:

        signal.signal(signal.SIGTERM, cls._now)
        signal.signal(signal.SIGINT, cls._now)

    @classmethod
    def _now(cls, signum: int, _frame: object) -> None:

        cls.interrupted = True
        if signum == signal.SIGTERM:  # Ctrl-C reached the jobs from the terminal already
            for pid in descendants(os.getpid()):
                try:
                    os.kill(pid, signal.SIGINT)
                except ProcessLookupError:
                    continue
        raise KeyboardInterrupt


def close_run(lines: list[str], code: int, folder: str | Path = ".snakemake") -> None:
    """The run's closing lines: printed now, or, under `claimflow run`, left for it to print
    after Snakemake's own last lines (with the exit status the workflow decided)."""
    if not under_launcher():
        for line in lines:
            print(line, file=sys.stderr)
        return

    atomic.write_text(Path(folder) / CLOSING_NAME, json.dumps({"lines": lines, "code": code}))


RUN_HELP = """usage: claimflow run [--nolock] SNAKEMAKE_ARGS ...

Run the workflow: `snakemake SNAKEMAKE_ARGS` with claimflow's guard around it.

  - One live run per folder: refused (exit 2) while another run is alive in it, naming its pid
    and command. After a crash (kill -9, the OOM killer, a reboot) the lock the dead run left
    is removed for you: no --unlock. --nolock runs beside a live run on purpose (pacing still
    holds across both, through the accounts' file locks).
  - The files given with --configfile are read first: a missing file or a YAML error is named,
    with its line, before Snakemake starts (exit 2).
  - Ctrl-C or SIGTERM (kill PID) stops the running jobs at once; the next run redoes them
    (exit 130).
  - claimflow's counted line is the last line printed. Exit status: 0 every video done (ok,
    unavailable or without speech), 1 videos failed, 2 bad input, 3 videos partial, 4 LLM
    budget reached (llm.budget: raise it and rerun), 130 interrupted. A plain rerun of the same
    command moves 1, 3 and 130 towards 0.

The arguments you will use:
  --profile profiles/local   a laptop or workstation (every core); profiles/slurm: a cluster
  -j N                       jobs at once (a profile may set it)
  --configfile FILE ...      your config over the shipped defaults (every setting: docs/configuration.md)
  -n                         dry run: what would run; no request is made
  downloads                  a target: fetch the batch's audio only, process it later

Every other Snakemake option works as usual: `snakemake --help` lists them.
"""

REFRESH_HELP = """usage: claimflow refresh [--nolock] SNAKEMAKE_ARGS ...

`claimflow run SNAKEMAKE_ARGS` that first lists every collection (channel, playlist, feed)
again: new entries are downloaded and processed, nothing done is redone, and entries gone from
a collection stay stored, marked as no longer listed. Everything `claimflow run --help` says
holds; a plain `claimflow run` uses the listings on disk.
"""

_CONFIG_OPTIONS = ("--configfile", "--configfiles")
_CORES_OPTIONS = ("-j", "--jobs", "-c", "--cores")


def config_files(args: list[str]) -> list[str]:
    """The files after --configfile (Snakemake takes several, up to the next option)."""
    found: list[str] = []
    taking = False
    for arg in args:
        if arg.startswith("-"):
            taking = arg in _CONFIG_OPTIONS
            if "=" in arg and arg.split("=", 1)[0] in _CONFIG_OPTIONS:
                found.append(arg.split("=", 1)[1])
            continue
        if taking:
            found.append(arg)
    return found


def full_disk(args: list[str], files: list[str]) -> str | None:
    """'no space left in FOLDER ...' when the disk of the run's folder, its results or its state
    is full: Snakemake's own lock and log writes would die in tracebacks before any claimflow
    message could be said."""
    workdir = workdir_of(args)
    try:
        merged = cf_config.merged(files)
    except cf_config.ConfigError:
        merged = {}
    folders = [workdir, *(workdir / str(merged[key]) for key in ("results", "state") if merged.get(key))]
    for folder in folders:
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is not None and (full := no_space(existing.resolve())):
            return f"{full}, where this run writes: {FREE_SPACE}"
    return None


def check_arguments(args: list[str]) -> str | None:
    """What is wrong with a run's arguments before Snakemake starts, or None."""
    files = config_files(args)
    for path in files:
        try:
            cf_config.read_file(path)
        except cf_config.ConfigError as error:
            return str(error)
    if needs_exclusive(args) and (full := full_disk(args, files)):
        return full
    named = any(a in _CORES_OPTIONS or a.startswith(tuple(f"{o}=" for o in _CORES_OPTIONS)) or
                re.fullmatch(r"-[jc]\d+", a) for a in args)  # fmt: skip
    profile = "--profile" in args or any(a.startswith("--profile=") for a in args)
    if needs_exclusive(args) and not named and not profile:
        return ("say how many jobs may run at once: -j N (e.g. -j 16), or --profile profiles/local, which uses "
                "every core. `claimflow run --help` lists what else a run takes")  # fmt: skip
    return None


def launch(args: list[str], python: str = sys.executable, help_text: str = RUN_HELP,
           alerts: Callable[[list[str], Path], Any] | None = None) -> int:  # fmt: skip
    """`claimflow run ARGS`: Snakemake with ARGS as a child process, after the checks above, and
    claimflow's closing lines after Snakemake's own. `alerts(args, workdir)`: the run's notifier
    (claimflow/commands/alerts.py), or None. Returns the run's exit status."""
    if any(a in ("-h", "--help") for a in args):
        print(help_text, end="")
        return 0

    if problem := check_arguments(args):
        print(f"claimflow: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
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
    closing = folder / CLOSING_NAME
    closing.unlink(missing_ok=True)
    env[HELD_ENV] = f"parent:{os.getpid()}"  # the child's parse sees its parent holds the lock
    notifier = alerts(args, workdir) if alerts else None
    return _supervise(subprocess.Popen(command, env=env, pass_fds=(fd,)), closing, notifier)


def _supervise(child: subprocess.Popen, closing: Path, notifier: Any = None) -> int:
    """Wait for the run. Ctrl-C reaches the child and its jobs from the terminal; a SIGTERM sent
    to this process (a supervisor's, `kill PID`) is passed on, and the workflow then stops its
    jobs at once. Afterwards: the workflow's closing lines, last, and its exit status."""

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGINT, lambda *_: None)  # the terminal sends Ctrl-C to the child too
    signal.signal(signal.SIGTERM, forward)
    while True:
        try:
            code = child.wait()
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for old kernels
            continue
    try:
        doc = json.loads(closing.read_text())
    except (OSError, ValueError):
        doc = None
    lines = doc.get("lines", []) if doc else []
    if doc is None:
        code = code if code >= 0 else 128 - code
    elif doc.get("code") == 130 or code < 0:
        code = 130
    elif doc.get("code") == EXIT_BUDGET and code == 1:  # Snakemake counts the budget's stopped jobs failed
        code = EXIT_BUDGET
    if notifier is not None:  # first: a receiver that is down says so before the counted line
        from claimflow.core import notify  # only a run that sends alerts loads them

        notifier.close(*notify.run_ended(lines, code))
    for line in lines:
        print(line, file=sys.stderr)
    return code
