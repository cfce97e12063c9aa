"""The alerts of one `claimflow run` (claimflow/core/notify.py): its notifier, made from the
config files the run was given, with the batch's digest."""

from __future__ import annotations

from pathlib import Path

from claimflow.commands import runlock, status, statusview
from claimflow.core import config as cf_config
from claimflow.core import notify


def for_run(args: list[str], workdir: Path) -> notify.Notifier | None:
    """The run's alerts (claimflow/core/notify.py) when the config files list `notify:` URLs;
    else None. Read from the files (`--config` on the command line is Snakemake's alone)."""
    files = runlock.config_files(args)
    try:
        if not cf_config.merged(files).get("notify"):
            return None
        config = cf_config.load(files)
    except cf_config.ConfigError:
        return None  # the workflow names the fault itself, before its first job
    state = Path(config["state"])
    if not state.is_absolute():
        state = workdir / state

    def digest() -> str:
        return statusview.digest(status.collect(config, workdir))

    return notify.Notifier(config["notify"], state, config["notify_digest_hours"], digest)
