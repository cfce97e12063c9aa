"""Snakemake entry point for rules batch_report and report (the same report, now)."""

from pathlib import Path

from claimflow.commands import report
from claimflow.core import config, logs

log = logs.setup(snakemake.log[0])
# The config's gaps and buffer limits the figures draw are runtime settings: read from config, so
# changing them reruns nothing (as for the download rule).
html = snakemake.output.get("html") or snakemake.params.html
figures = Path(snakemake.output.downloads).parent if snakemake.output else None
# The run's config files: in its config (claimflow.core.config.RUN_KEY), not a param, so naming them reruns nothing.
files = tuple(snakemake.config.get(config.RUN_KEY, {}).get("configfiles", ()))
data = report.build(snakemake.config, list(snakemake.params.vids), snakemake.params.results, html, figures,
                    config_files=files)  # fmt: skip
log.info("report of %d videos written to %s", len(data.rows), html)
