# claimflow: videos -> audio -> transcripts -> grounded claims -> scores -> SQLite.
# Each stage is a rule producing files under `results/<vid>/`; Snakemake's scheduler does the
# parallelism and the resumption. Rules declare, scripts adapt, the claimflow package decides.

import os

from snakemake.utils import min_version, validate

from claimflow.core import config as cf_config

min_version("9.0")


# Defaults ship with the workflow; --configfile overrides them key by key.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# One paragraph naming the key, its value, what it must be and where to fix it (Snakemake's own
# message prints the schema's whole subtree).
# It stops the run before any job with exit status 2, as every claimflow command does for bad input.
cf_config.dates_as_text(config)
try:
    validate(config, "config/schema.yaml", set_default=True)
except WorkflowError:
    cf_config.refuse(cf_config.explain_invalid(config))
# What this run was given, for its jobs (the report names the files); no user sets it: the schema
# refuses any key it does not know.
config[cf_config.RUN_KEY] = {
    "configfiles": [str(path) for path in workflow.configfiles]
}


include: "rules/common.smk"
include: "rules/captions.smk"
include: "rules/download.smk"
include: "rules/transcribe.smk"
include: "rules/mine.smk"
include: "rules/evaluate.smk"
include: "rules/store.smk"
include: "rules/link.smk"
include: "rules/summarize.smk"
include: "rules/report.smk"
include: "rules/collections.smk"


# On the main process's host under a cluster executor: the database has one writer host
# (SQLite's locks and WAL do not work across hosts on a network filesystem), and the summary
# and the report read it. Downloads too, unless download.on_compute_nodes (rules/download.smk).
localrules:
    all,
    downloads,
    select_collection,
    store_collection,
    store,
    summary,
    batch_report,
    report,


onstart:
    # SIGTERM (a supervisor's, `kill PID`) stops the running jobs at once, as Ctrl-C does.
    cf_runlock.Stop.install()
    # Faults of the setup stop the run before its first job, with the fix in one line each.
    preflight()
    # Each run gives the environment a fresh chance: the user may have fixed it.
    reset_download_stop()


onsuccess:
    # The last line, for every run that ran jobs; exit status 3 when videos are partial.
    finish_run()


onerror:
    print_account_health()
    print_download_stop()
    finish_run(exit_with_status=False, with_report=True)


rule all:
    default_target: True
    input:
        get_final_outputs,
