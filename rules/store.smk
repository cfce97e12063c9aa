# store: idempotent upsert of one video into SQLite; summary: the batch as one TSV (written
# again by onerror when videos failed, since then this rule cannot run).


rule store:
    input:
        manifest=RESULTS.video("{vid}", cf_layout.DOWNLOAD),
        transcript=RESULTS.video("{vid}", cf_layout.TRANSCRIPT),
        claims=RESULTS.video("{vid}", cf_layout.CLAIMS),
        evaluation=RESULTS.video("{vid}", cf_layout.EVALUATION),
    output:
        marker=RESULTS.video("{vid}", cf_layout.STORED),
    log:
        RESULTS.log("store", "{vid}"),
    benchmark:
        RESULTS.benchmark("store", "{vid}")
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
            RESULTS.summary,
            caption="../report/summary.rst",
            category="Batch",
        ),
        usage=RESULTS.usage,
    log:
        RESULTS.log("summary"),
    benchmark:
        RESULTS.benchmark("summary")
    conda:
        "../envs/store.yaml"
    params:
        database=get_database(),
    script:
        "../scripts/summary.py"
