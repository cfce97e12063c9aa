# embed: each video's accepted claims as vectors (the bundled model, offline; per video, so on
# compute nodes under a cluster executor); link: those vectors joined to the batch's clusters in
# the database, so where the store runs (the main host).


rule embed:
    input:
        claims=RESULTS.video("{vid}", cf_layout.CLAIMS),
        evaluation=RESULTS.video("{vid}", cf_layout.EVALUATION),
    output:
        embeddings=RESULTS.video("{vid}", cf_layout.EMBEDDINGS),
    log:
        RESULTS.log("embed", "{vid}"),
    benchmark:
        RESULTS.benchmark("embed", "{vid}")
    conda:
        "../envs/store.yaml"
    params:
        settings=get_embed_settings(),
    script:
        "../scripts/embed.py"


rule link:
    input:
        embeddings=RESULTS.video("{vid}", cf_layout.EMBEDDINGS),
    output:
        marker=RESULTS.video("{vid}", cf_layout.LINKED),
    log:
        RESULTS.log("link", "{vid}"),
    benchmark:
        RESULTS.benchmark("link", "{vid}")
    localrule: True
    conda:
        "../envs/store.yaml"
    params:
        settings=get_link_settings(),
        database=get_database(),
        # A new database reruns every link job, as every store job: they refill it from the files.
        database_id=get_database_id(),
    script:
        "../scripts/link.py"


# judge: the LLM on each candidate pair of the video's claims (same, supports, contradicts,
# unrelated), cached; a local rule since it reads the pairs from the database and writes the
# verdicts to it.
rule judge:
    input:
        marker=RESULTS.video("{vid}", cf_layout.LINKED),
    output:
        judged=RESULTS.video("{vid}", cf_layout.JUDGED),
    log:
        RESULTS.log("judge", "{vid}"),
    benchmark:
        RESULTS.benchmark("judge", "{vid}")
    localrule: True
    conda:
        "../envs/llm.yaml"
    threads: 2
    resources:
        llm=1,
    params:
        settings=get_judge_settings(),
        database=get_database(),
        database_id=get_database_id(),
    script:
        "../scripts/judge.py"
