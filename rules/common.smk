# Shared by all rules: the batch (sources -> ids), account assignment and resource slots,
# path helpers, and every input/params function the rules use.

import inspect
import os
import sys
import zlib
from pathlib import Path

from claimflow.batch import collections as cf_collections
from claimflow.batch import retries as cf_retries
from claimflow.batch import sources as cf_sources
from claimflow.batch import targets as cf_targets
from claimflow.batch import vocabulary as cf_vocabulary
from claimflow.batch.sources import ID_PATTERN, SourceError
from claimflow.commands import doctor as cf_doctor
from claimflow.commands import report as cf_report
from claimflow.commands import runlock as cf_runlock
from claimflow.core import atomic as cf_atomic
from claimflow.core import config as cf_config
from claimflow.core import layout as cf_layout
from claimflow.core import notify as cf_notify
from claimflow.core import settings as cf_settings
from claimflow.download import accounts as cf_accounts
from claimflow.download import captionspass as cf_captionspass
from claimflow.download import envstop as cf_envstop
from claimflow.download import roads as cf_roads
from claimflow.llm import budget as cf_budget
from claimflow.llm import client as cf_llm
from claimflow.store import database as cf_store
from claimflow.store import summary as cf_summary
from claimflow.transcribe import stage as cf_transcribe
from snakemake.common import overwrite_function_params
from snakemake.exceptions import IncompleteCheckpointException

# The typed settings, built once per parse (every cluster job re-parses: this is cheap and
# reads no per-job file). Rules pass each stage's result settings as its `settings` param.
try:
    for _warning in cf_settings.check(config):
        logger.warning(f"claimflow: {_warning}")
    SETTINGS = cf_settings.Settings.from_config(config)
except cf_settings.SettingsError as error:
    cf_config.refuse(str(error))

# Each stage's result settings as a param value: the same for every job, so made once.
PARAMS = {
    stage: cf_settings.as_param(getattr(SETTINGS, stage))
    for stage in (
        "transcribe",
        "mine",
        "evaluate",
        "embed",
        "link",
        "judge",
        "summarize",
    )
}

# This run is alive in this folder, for `claimflow run` (claimflow/commands/runlock.py): a kernel lock,
# released however the process ends. Cluster jobs and job subprocesses take none.
if workflow.is_main_process and not workflow.remote_exec:
    RUN_LOCK = cf_runlock.hold_shared(".snakemake")

# Every path of the batch, from claimflow/core/layout.py.
RESULTS = cf_layout.Results.of(config["results"])
STATE = cf_layout.State.of(config["state"])


wildcard_constraints:
    vid=ID_PATTERN,


try:
    BATCH = cf_sources.batch_of(config)
except SourceError as error:
    cf_config.refuse(str(error))
# The single videos, known at parse time; a collection's videos are known once its listing
# exists (the select_collection checkpoint), and read then (collected_source).
SOURCES = {s.vid: s for s in BATCH.videos}
COLLECTIONS = {c.cid: c for c in BATCH.collections}
# The batch's own terms (a file read once per parse) and its collections', for Whisper and
# the miner.
try:
    VOCABULARY = cf_vocabulary.for_video(
        cf_vocabulary.read_terms(config["vocabulary"]),
        [c.vocabulary for c in BATCH.collections],
    )
except cf_vocabulary.VocabularyError as error:
    cf_config.refuse(str(error))

ACCOUNTS = {a.name: a for a in cf_accounts.from_config(config)}
ACCOUNT_NAMES = list(ACCOUNTS)
if workflow.is_main_process and not workflow.remote_exec:
    for _account in ACCOUNTS.values():
        if _warning := cf_accounts.cookie_file_warning(_account):
            logger.warning(f"claimflow: {_warning}")
ASSIGNED = cf_accounts.assign(list(SOURCES), list(ACCOUNTS.values()))
# Each collection's listing is a request of one account, round the list like the videos.
COLLECTION_ACCOUNTS = cf_accounts.assign(list(COLLECTIONS), list(ACCOUNTS.values()))

# With every account disabled, no download can succeed: say so once, and process what was
# already downloaded instead of failing thousands of download jobs one by one.
# (Only the main process decides the batch's targets: a cluster job reads no account state.)
DOWNLOADS_STOPPED = (
    workflow.is_main_process
    and not workflow.remote_exec
    and cf_accounts.all_disabled(list(ACCOUNTS.values()), STATE.accounts)
)
if DOWNLOADS_STOPPED:
    logger.warning(cf_accounts.health_report(list(ACCOUNTS.values()), STATE.accounts))
    TARGETS = [
        v for v in SOURCES if Path(RESULTS.video(v, cf_layout.DOWNLOAD)).exists()
    ]
else:
    TARGETS = list(SOURCES)

# Snakemake treats a resource nobody declares as unlimited: declare one slot per account
# (and the LLM concurrency bound) here, unless the profile or command line already did.
for _account in ACCOUNTS.values():
    if _account.resource not in workflow.global_resources:
        workflow.register_resource(_account.resource, 1)
if "llm" not in workflow.global_resources:
    workflow.register_resource("llm", cf_llm.concurrency_slots(SETTINGS))


def per_job(func):
    """Mark a function that Snakemake calls once per job (input, params or resources).
    Snakemake reads such a function's signature at every call (inspect.signature: 20 calls
    per video, a tenth of a 7,000-video dry run); read it once here instead, through the hook
    Snakemake itself uses for functions whose signature it cannot inspect.
    """
    overwrite_function_params(func, inspect.signature(func).parameters)
    return func


def selection_path(cid):
    return RESULTS.collection(cid, cf_layout.SELECTION)


# vid -> Source of the videos the collections' selections hold, read from the selection files
# when a video is first asked for (again after a listing finished: a new file, a new video).
COLLECTED = {}
SELECTED = {}  # cid -> (the selection file's mtime when read, its video ids)


def load_selections():
    # A stat per collection; a file is read again only when its checkpoint rewrote it.
    for cid in COLLECTIONS:
        try:
            stamp = os.stat(selection_path(cid)).st_mtime_ns
        except FileNotFoundError:
            continue
        if SELECTED.get(cid, (None,))[0] == stamp:
            continue
        sources = cf_collections.read_selection(selection_path(cid))
        SELECTED[cid] = (stamp, [source.vid for source in sources])
        for source in sources:
            COLLECTED.setdefault(source.vid, source)


def add_selected(vids, cids):
    """Add the video ids the selections of `cids` hold (those downloaded only, when downloads
    stopped, as for TARGETS)."""
    load_selections()
    for cid in cids:
        for vid in SELECTED.get(cid, (None, []))[1]:
            if (
                not DOWNLOADS_STOPPED
                or Path(RESULTS.video(vid, cf_layout.DOWNLOAD)).exists()
            ):
                vids.setdefault(vid)


def collected_source(vid):
    if vid not in COLLECTED:
        load_selections()
    return COLLECTED[vid]


def source_of(vid):
    return SOURCES[vid] if vid in SOURCES else collected_source(vid)


def batch_vids(pending=None):
    """The batch's videos: the single ones, then each listed collection's selection. A
    collection not listed yet (or to be listed again: `claimflow refresh`) adds its selection
    file to `pending`, so the rule asking waits for that checkpoint, and the rest goes on.
    """
    vids = dict.fromkeys(TARGETS)
    listed = []
    for cid in COLLECTIONS:
        try:
            checkpoints.select_collection.get(cid=cid)
        except IncompleteCheckpointException:
            if pending is not None:
                pending.append(selection_path(cid))
            continue
        listed.append(cid)
    add_selected(vids, listed)
    return list(vids)


@per_job
def get_final_outputs(wildcards):
    # TARGETS, not SOURCES: with every account disabled, videos not yet downloaded are not
    # planned at all, and the run finishes what it can with exit status 0. A deleted product
    # (to redo a video's stage) is a target too: claimflow/batch/targets.py says why and how.
    pending = []
    vids = batch_vids(pending)
    per_video = cf_targets.final_outputs(
        RESULTS,
        vids,
        look=workflow.is_main_process and not workflow.remote_exec,
        linked=SETTINGS.link_enabled,
        judged=SETTINGS.judge_enabled,
        summarized=SETTINGS.summarize_enabled,
    )
    stored_collections = [
        RESULTS.collection(cid, cf_layout.COLLECTION_STORED) for cid in COLLECTIONS
    ]
    return per_video + pending + stored_collections + [RESULTS.summary, RESULTS.report]


@per_job
def get_download_manifests(wildcards):
    pending = []
    return [
        RESULTS.video(vid, cf_layout.DOWNLOAD) for vid in batch_vids(pending)
    ] + pending


@per_job
def get_batch_vids(wildcards):
    # The videos the summary and the report cover: this run's batch.
    return batch_vids()


@per_job
def get_collection_url(wildcards):
    return COLLECTIONS[wildcards.cid].url


@per_job
def get_collection_kind(wildcards):
    return COLLECTIONS[wildcards.cid].kind


@per_job
def get_collection_filters(wildcards):
    return COLLECTIONS[wildcards.cid].filters.active()


def get_collection_account_resources():
    """Resource functions: 1 for the account a collection's listing books, else 0."""

    def slot_of(name):
        @per_job
        def slot(wildcards):
            return int(COLLECTION_ACCOUNTS[wildcards.cid] == name)

        return slot

    return {a.resource: slot_of(a.name) for a in ACCOUNTS.values()}


@per_job
def get_summary_dir(wildcards, input):
    # results/summary.tsv -> results: the folder the report is built from.
    return str(Path(input.summary).parent)


@per_job
def get_stored_markers(wildcards):
    # With summaries on, the summary and the report wait for them too: the report the run ends
    # with shows every video's summary.
    pending = []
    names = [cf_layout.STORED] + (
        [cf_layout.SUMMARIZED] if SETTINGS.summarize_enabled else []
    )
    return [
        RESULTS.video(vid, name) for vid in batch_vids(pending) for name in names
    ] + pending


@per_job
def get_results_dir(wildcards, output):
    # results/<vid>/download.json -> results: where the download buffer is counted.
    return str(Path(output.manifest).parent.parent)


# The videos downloaded before the captions pass existed (one file; the first run of this
# release writes it): their downloads keep the inputs they were made with.
BEFORE_CAPTIONS = cf_captionspass.downloaded_before(
    RESULTS.root,
    RESULTS.downloaded_before_captions,
    write=workflow.is_main_process and not workflow.remote_exec,
)
# The videos downloaded with the pass's record as an input (one file, made by this release's first
# run): they keep it, even where the pass would not ask now (claimflow/download/captionspass.py).
ASKED_BEFORE = cf_captionspass.asked_before(
    RESULTS.root,
    RESULTS.asked_before,
    write=workflow.is_main_process and not workflow.remote_exec,
)
if "captions_pass" not in workflow.global_resources:
    workflow.register_resource("captions_pass", 1)


@per_job
def get_captions_found(wildcards):
    # unpack(): no input at all for a video downloaded before the pass existed, nor for one
    # the pass has nothing to ask about (a local file, a media file's own address).
    found = {"found": RESULTS.video(wildcards.vid, cf_layout.FOUND)}
    if wildcards.vid in BEFORE_CAPTIONS:
        return {}
    if wildcards.vid in ASKED_BEFORE:
        return found
    if not cf_captionspass.asks(source_of(wildcards.vid).url):
        return {}
    return found


@per_job
def get_url(wildcards):
    return source_of(wildcards.vid).url


def assigned_account(vid):
    # A collection's video is assigned by a hash of its id: stable whatever the listings' order.
    if vid in ASSIGNED:
        return ASSIGNED[vid]
    return ACCOUNT_NAMES[zlib.crc32(vid.encode()) % len(ACCOUNT_NAMES)]


def get_account_slot(name):
    """Resource function: 1 if this download job books account `name`, else 0. The booking
    is a pure function of the video's assigned account and the attempt (no state read), and of
    the captions pass's record once the job is ready: a video whose road is certainly captions,
    or that the pass found unavailable, books no account (it spends no turn).
    """

    @per_job
    def slot(wildcards, input, attempt):
        booked = cf_accounts.book(
            assigned_account(wildcards.vid), ACCOUNT_NAMES, attempt
        )
        if booked != name:
            return 0
        return int(takes_a_turn(input))

    return slot


def takes_a_turn(input):
    # Snakemake asks again when the job is ready (its inputs made); before, the record is
    # missing and the answer is the safe one (a slot).
    if "found" not in input.keys():
        return True
    found = cf_atomic.read_json_or_empty(input.found)
    return cf_roads.takes_a_turn(
        found, SETTINGS.captions, SETTINGS.transcribe.prefer_captions
    )


def get_account_resources():
    return {a.resource: get_account_slot(a.name) for a in ACCOUNTS.values()}


def get_vocabulary():
    # One list for every video: the batch's terms, then each collection's. Which collections
    # hold a video is known only once they are listed; a vocabulary per video would depend on
    # which listing finished first, and a later run would transcribe the video again.
    return list(VOCABULARY)


def get_transcribe_settings():
    # Exactly what changes the transcript; runtime settings are read by the job from config.
    return PARAMS["transcribe"]


# A transcribe job's threads, memory and GPU follow its download's road (read from download.json
# when the job is ready): a transcript made from captions runs no model.
TRANSCRIBE_THREADS = 2
# (download.json, its mtime or None) -> JobNeeds: one read per job's state.
TRANSCRIBE_NEEDS = {}


def transcribe_needs(input):
    # Snakemake asks for threads, memory and GPU one by one, at the DAG's build (no record yet)
    # and again when the job is ready.
    try:
        stamp = os.stat(input.manifest).st_mtime_ns
    except FileNotFoundError:
        stamp = None
    key = (input.manifest, stamp)
    if key not in TRANSCRIBE_NEEDS:
        TRANSCRIBE_NEEDS[key] = cf_transcribe.job_needs(
            input.manifest,
            input.audio,
            SETTINGS.transcribe.model,
            SETTINGS.transcribe_runtime,
            TRANSCRIBE_THREADS,
        )
    return TRANSCRIBE_NEEDS[key]


@per_job
def get_transcribe_threads(wildcards, input):
    return transcribe_needs(input).threads


@per_job
def get_transcribe_mem_mb(wildcards, input):
    return transcribe_needs(input).mem_mb


@per_job
def get_transcribe_gpus(wildcards, input):
    return transcribe_needs(input).gpus


def get_mine_settings():
    # The LLM identity, the prompt (by content), chunking, limits and grounding thresholds.
    return PARAMS["mine"]


def get_evaluate_settings():
    return PARAMS["evaluate"]


def get_embed_settings():
    return PARAMS["embed"]


def get_link_settings():
    return PARAMS["link"]


def get_judge_settings():
    return PARAMS["judge"]


def get_summarize_settings():
    return PARAMS["summarize"]


# Partial work (failed windows or batches) raises a video's retry round; a changed round
# reruns exactly that stage of that video (claimflow/batch/retries.py). One file, read once.
RETRIES = cf_retries.load(RESULTS)

# The database's identity, read once and read-only: parse time writes nothing (on a full disk
# it would die in SQLite before any message of claimflow's). When there is none (the database
# lost, or not made yet), the main process picks the new one here and the preflight creates the
# database with it; every store job then reruns to refill it. A cluster job reads what is there.
DATABASE_ID = cf_store.database_id(RESULTS.database)
NEW_DATABASE_ID = None
if DATABASE_ID is None and workflow.is_main_process and not workflow.remote_exec:
    DATABASE_ID = NEW_DATABASE_ID = cf_store.new_identity()


def get_retry_round(stage):
    @per_job
    def retry_round(wildcards):
        return cf_retries.round_of(RETRIES, stage, wildcards.vid)

    return retry_round


def get_database_id():
    return DATABASE_ID


def get_config_files():
    # The files the run was given (the report's header names them); in the config, not a param,
    # so a report job of a batch made by an earlier claimflow does not rerun for them.
    return list(config[cf_config.RUN_KEY]["configfiles"])


def get_database():
    return RESULTS.database


def print_account_health():
    """One summary of the accounts after a failed run: which are disabled or paused, and why."""
    message = cf_accounts.health_report(list(ACCOUNTS.values()), STATE.accounts)
    if message:
        print(message, file=sys.stderr)


def reset_download_stop():
    cf_envstop.reset(STATE.root)
    cf_llm.reset_llm_stop(STATE.root)


def print_download_stop():
    """One message after a run whose downloads stopped because the environment is broken."""
    streak = cf_envstop.current(STATE.root)
    if len(streak.get("vids", [])) >= SETTINGS.download.environment_failures:
        print(cf_envstop.message(streak), file=sys.stderr)


def preflight():
    """The setup's faults (no key, an endpoint that does not answer, an unreadable cookie file,
    a folder that cannot be written) end the run before any job: nothing is marked done.
    """
    checks = cf_doctor.preflight(config, RESULTS.database, NEW_DATABASE_ID)
    for check in checks:
        if check.status != cf_doctor.OK:
            print(f"claimflow preflight: {check.line()}", file=sys.stderr)
    failed = [c for c in checks if c.status == cf_doctor.FAIL]
    for check in failed:  # to `notify:`, sent by `claimflow run` before the run's end
        kind = cf_notify.LLM_PREFLIGHT if check.name == "llm" else "preflight"
        cf_notify.emit(
            STATE.root,
            kind,
            f"claimflow: the {check.name} check failed before the first job",
            check.line(),
        )
    if failed:
        raise WorkflowError(
            f"claimflow: {len(failed)} setup check(s) failed before the first job; fix them and run "
            "the same command again (`claimflow doctor` checks the rest)"
        )


def vids_on_disk():
    """The batch's videos from the selections on disk (after a run: no checkpoint to ask)."""
    vids = dict.fromkeys(TARGETS)
    add_selected(vids, COLLECTIONS)
    return list(vids)


def collection_lines():
    """Per collection: listed, kept, removed by each filter, no longer listed; or why not listed."""
    missing = (
        f"not listed: its listing failed ({RESULTS.log('list_collection', '{cid}')} says why); the same "
        "command lists it again"
    )
    lines = cf_collections.count_lines(BATCH.collections, RESULTS, missing)
    return [f"claimflow: collection {line}" for line in lines]


def held_by_budget(rows):
    """Stored videos whose judge or summary the budget stopped (their outcome stays theirs)."""
    held = set()
    if SETTINGS.judge_enabled:
        held.update(
            cf_summary.link_failures(
                RESULTS, rows, judged=True, mark=cf_budget.BUDGET_MARK
            )
        )
    if SETTINGS.summarize_enabled:
        held.update(
            cf_summary.summary_failures(RESULTS, rows, mark=cf_budget.BUDGET_MARK)
        )
    return held


def finish_run(exit_with_status=True, with_report=False):
    """Write summary.tsv and usage.json for the whole batch (and, after a failed run, whose
    report rule could not run, the report), say the closing lines (each collection's counts and
    the counted last line) and end with the exit status (1: videos failed, 130: interrupted,
    3: videos partial, 0: all done). After a failed run Snakemake exits 1 by itself."""
    vids = vids_on_disk()
    summary = Path(RESULTS.summary)
    written = summary.read_text() if summary.is_file() else None
    rows = cf_summary.write(
        get_database(),
        vids,
        RESULTS.summary,
        RESULTS.usage,
        RESULTS,
    )
    # A summary that reads differently from the one the report was built from (a release that
    # adds a column, jobs that ran after the summary rule) would leave the report stale and
    # planned again by the next run: it is built again here, as after a failed run.
    stale = written is not None and summary.read_text() != written
    # Link and judge jobs that finished after the report was built (the report waits for the
    # stores, not for them): the corpus view it ends the run with shows them too.
    behind = cf_report.older_than_knowledge(RESULTS, vids)
    if with_report or stale or behind:
        try:
            cf_report.build(
                config,
                vids,
                RESULTS,
                RESULTS.report,
                # The report rule's figures too, so none of its outputs is older than the summary.
                Path(RESULTS.figure("downloads")).parent if stale or behind else None,
                config_files=get_config_files(),
            )
            if (stale or behind) and Path(RESULTS.benchmark("report")).is_file():
                # Snakemake counts the rule's benchmark among its outputs' times.
                os.utime(RESULTS.benchmark("report"))
        except Exception as error:  # the summary and the last line matter more
            print(
                f"claimflow: the report could not be written: {error}", file=sys.stderr
            )
    line, code = cf_summary.last_line(
        rows,
        (
            len(cf_summary.link_failures(RESULTS, rows, judged=SETTINGS.judge_enabled))
            if SETTINGS.link_enabled
            else 0
        ),
        (
            len(cf_summary.summary_failures(RESULTS, rows))
            if SETTINGS.summarize_enabled
            else 0
        ),
        len(held_by_budget(rows)),
    )
    if cf_runlock.Stop.interrupted:
        code = cf_summary.EXIT_INTERRUPTED
    stopped = cf_llm.llm_stop(STATE.root)
    budget = cf_budget.reached(RESULTS.root, SETTINGS.llm_runtime.budget)
    cf_runlock.close_run(
        [
            *collection_lines(),
            *([f"claimflow: {stopped}"] if stopped else []),
            *([f"claimflow: {budget}"] if budget else []),
            line,
        ],
        code,
    )
    if code and exit_with_status:
        sys.exit(code)
