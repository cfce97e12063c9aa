# evaluate: LLM scores per claim; merge, tier and rank decided in claimflow.evaluate.


rule evaluate:
    input:
        claims=f"{RESULTS}/{{vid}}/claims.json",
    output:
        evaluation=f"{RESULTS}/{{vid}}/evaluation.json",
    log:
        f"{LOGS}/evaluate/{{vid}}.log",
    benchmark:
        f"{BENCH}/evaluate/{{vid}}.tsv"
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
