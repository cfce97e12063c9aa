# store: idempotent upsert of one video into SQLite; summary: the batch as one TSV (written
# again by onerror when videos failed, since then this rule cannot run).


rule store:
    input:
        manifest=f"{RESULTS}/{{vid}}/download.json",
        transcript=f"{RESULTS}/{{vid}}/transcript.json",
        claims=f"{RESULTS}/{{vid}}/claims.json",
        evaluation=f"{RESULTS}/{{vid}}/evaluation.json",
    output:
        marker=f"{RESULTS}/{{vid}}/stored.json",
    log:
        f"{LOGS}/store/{{vid}}.log",
    benchmark:
        f"{BENCH}/store/{{vid}}.tsv"
    conda:
        "../envs/store.yaml"
    params:
        database=get_database(),
        # A new database (the old one deleted or lost) reruns every store job, which refill
        # it from the per-video files: no download, no LLM request.
        database_id=get_database_id(),
    script:
        "../scripts/store.py"


rule summary:
    input:
        markers=get_stored_markers,
    output:
        tsv=report(
            f"{RESULTS}/summary.tsv",
            caption="../report/summary.rst",
            category="Batch",
        ),
        usage=f"{RESULTS}/usage.json",
    log:
        f"{LOGS}/summary.log",
    benchmark:
        f"{BENCH}/summary.tsv"
    conda:
        "../envs/store.yaml"
    params:
        database=get_database(),
    script:
        "../scripts/summary.py"
