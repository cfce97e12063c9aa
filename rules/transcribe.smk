# transcribe: faster-whisper, model loaded once per job; captions written as segments arrive.


rule transcribe:
    input:
        audio=f"{RESULTS}/{{vid}}/audio",
        manifest=f"{RESULTS}/{{vid}}/download.json",
        captions=f"{RESULTS}/{{vid}}/captions.vtt",
    output:
        json=f"{RESULTS}/{{vid}}/transcript.json",
        srt=f"{RESULTS}/{{vid}}/transcript.srt",
        vtt=f"{RESULTS}/{{vid}}/transcript.vtt",
        txt=f"{RESULTS}/{{vid}}/transcript.txt",
    log:
        f"{LOGS}/transcribe/{{vid}}.log",
    benchmark:
        f"{BENCH}/transcribe/{{vid}}.tsv"
    conda:
        "../envs/transcribe.yaml"
    threads: 2
    resources:
        mem_mb=get_transcribe_mem_mb,
        gpu=get_transcribe_gpus(),
    params:
        settings=get_transcribe_settings(),
        vocabulary=get_vocabulary(),
    script:
        "../scripts/transcribe.py"
