"""A real single-node SLURM on localhost (Debian slurm-wlm and munge), all of it under one
folder: munged with its own key and socket, slurmctld and slurmd with a config that needs no
cgroups and no accounting. Recipe and pitfalls: ../shared/SLURM-TESTING.md.

`bin/` holds two wrappers to put first in PATH: `srun`, which restores SLURM_CONF (the jobstep
plugin clears every SLURM_* variable before its inner srun), and `sbatch`, which records each
submission (its arguments, one JSON line) before handing it to the real sbatch: the test's
evidence of what went to the cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

DAEMONS = ("slurmctld", "slurmd", "munged")

SLURM_CONF = """ClusterName=claimflowtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={base}/munge/munge.socket
SlurmctldPort={port}
SlurmdPort={port_d}
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/run/slurmctld.pid
SlurmdPidFile={base}/run/slurmd.pid
SlurmctldLogFile={base}/log/slurmctld.log
SlurmdLogFile={base}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
MailProg=/bin/true
DefMemPerCPU=256
ReturnToService=2
MinJobAge=300
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""

SRUN = """#!/bin/sh
export SLURM_CONF={conf}
exec /usr/bin/srun "$@"
"""

SBATCH = """#!{python}
import json, os, sys, time
with open({record!r}, "a") as handle:
    handle.write(json.dumps({{"time": time.time(), "args": sys.argv[1:]}}) + "\\n")
os.execv("/usr/bin/sbatch", ["sbatch", *sys.argv[1:]])
"""


def missing() -> str | None:
    """Why a cluster cannot start here, or None."""
    needed = ["slurmctld", "slurmd", "munged", "sbatch", "squeue", "sinfo"]
    absent = [name for name in needed if not shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin")]
    if absent:
        return f"{', '.join(absent)} not installed (Debian: apt-get install slurm-wlm munge; .ci/run installs them)"
    if os.geteuid() != 0:
        return "starting slurmd and munged as configured here needs root"
    return None


class Cluster:
    def __init__(self, base: Path, cpus: int | None = None, port: int = 16817):
        self.base = base
        self.cpus = cpus or os.cpu_count() or 2
        self.port = port
        self.conf = base / "etc" / "slurm.conf"
        self.bin = base / "bin"
        self.submissions = base / "sbatch.jsonl"

    @property
    def env(self) -> dict[str, str]:
        """The environment for the workflow: the wrappers first in PATH, and SLURM_CONF."""
        return os.environ | {"SLURM_CONF": str(self.conf), "PATH": f"{self.bin}:{os.environ['PATH']}"}

    def sbatch_calls(self) -> list[list[str]]:
        if not self.submissions.exists():
            return []
        return [json.loads(line)["args"] for line in self.submissions.read_text().splitlines()]

    def __enter__(self) -> Cluster:
        for folder in ("etc", "munge", "state", "spool", "run", "log", "bin"):
            (self.base / folder).mkdir(parents=True, exist_ok=True)
        os.chmod(self.base / "munge", 0o700)
        key = self.base / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        memory = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20) - 1024
        self.conf.write_text(SLURM_CONF.format(base=self.base, port=self.port, port_d=self.port + 1,
                                               cpus=self.cpus, memory=memory))  # fmt: skip
        for name, text in (("srun", SRUN.format(conf=self.conf)),
                           ("sbatch", SBATCH.format(python=shutil.which("python3") or "/usr/bin/python3",
                                                    record=str(self.submissions)))):  # fmt: skip
            (self.bin / name).write_text(text)
            os.chmod(self.bin / name, 0o755)
        munge = self.base / "munge"
        self._run(["/usr/sbin/munged", "--force", f"--key-file={key}", f"--socket={munge}/munge.socket",
                   f"--pid-file={munge}/munged.pid", f"--log-file={munge}/munged.log",
                   f"--seed-file={munge}/munged.seed"])  # fmt: skip
        env = self.env
        self._run(["/usr/sbin/slurmctld", "-f", str(self.conf), "-c"], env)
        self._run(["/usr/sbin/slurmd", "-f", str(self.conf), "-N", "localhost"], env)
        deadline = time.time() + 60
        while time.time() < deadline:
            state = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=env, capture_output=True, text=True)
            if state.stdout.strip() == "idle":
                return self
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"the test SLURM did not become idle: see {self.base}/log")

    def _run(self, command: list[str], env: dict[str, str] | None = None) -> None:
        started = subprocess.run(command, env=env or os.environ, capture_output=True, text=True, timeout=30)
        if started.returncode != 0:
            raise RuntimeError(f"{command[0]} did not start: {started.stderr.strip()}")

    def __exit__(self, *exc: object) -> None:
        pids = {
            "slurmctld": self.base / "run/slurmctld.pid",
            "slurmd": self.base / "run/slurmd.pid",
            "munged": self.base / "munge/munged.pid",
        }
        for name, pidfile in pids.items():
            try:
                pid = int(pidfile.read_text().strip())
                if Path(f"/proc/{pid}/comm").read_text().strip() != name[:15]:
                    continue
            except (OSError, ValueError):
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.time() + 10
            while Path(f"/proc/{pid}").exists() and time.time() < deadline:
                time.sleep(0.1)
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)  # slurmd may ignore SIGTERM while it cannot register
