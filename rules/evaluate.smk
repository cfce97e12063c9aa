# evaluate: LLM scores per claim; merge, tier and rank decided in claimflow.knowledge.evaluate.


rule evaluate:
    input:
        claims=RESULTS.video("{vid}", cf_layout.CLAIMS),
    output:
        evaluation=RESULTS.video("{vid}", cf_layout.EVALUATION),
    log:
        RESULTS.log("evaluate", "{vid}"),
    benchmark:
        RESULTS.benchmark("evaluate", "{vid}")
    conda:
        "../envs/llm.yaml"
    threads: 2
    resources:
        llm=1,
    params:
        settings=get_evaluate_settings(),
        retry_round=get_retry_round("evaluate"),
    script:
        "../scripts/evaluate.py"
