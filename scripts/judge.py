"""Snakemake entry point for rule judge."""

import sqlite3
import time

from claimflow import parts
from claimflow.core import atomic, logs
from claimflow.core.settings import JudgeResult, Settings, from_param
from claimflow.knowledge import judge
from claimflow.store import clusters

log = logs.setup(snakemake.log[0])
settings = from_param(JudgeResult, snakemake.params.settings)
runtime = Settings.from_config(snakemake.config)  # endpoint, key, rates, timeouts: rerun nothing
vid = snakemake.wildcards.vid
conn = sqlite3.connect(f"file:{snakemake.params.database}?mode=ro", uri=True, timeout=runtime.store.busy_timeout)
try:
    pairs = clusters.pairs_of(conn, vid, settings.pairs_per_claim)
    said = clusters.sides(conn, [key for p in pairs for key in (p.a, p.b)])
finally:
    conn.close()
sides = {key: judge.Side(key, text, quote) for key, (text, quote) in said.items()}
known = [(p, sides[p.a], sides[p.b]) for p in pairs if p.a in sides and p.b in sides]
negations = [judge.by_negation(a, b, p.similarity) for p, a, b in known if p.negation]
asked = [(a, b) for p, a, b in known if not p.negation]
verdicts, usage = [], {}
if asked:  # the client (and the local model) only for a video with pairs to judge
    client = parts.llm_client(snakemake.config, "judge", settings.llm, runtime.llm_runtimes["judge"], snakemake.threads,
                              runtime.state)  # fmt: skip
    verdicts = judge.judge(asked, client, settings.judge_prompt)
    usage = client.usage.as_dict()
judged = [v for v in verdicts if v.relation != "failed"]
model = f"{settings.llm.provider}:{settings.llm.model}"
clusters.record_judgements(snakemake.params.database, [(v.a, v.b, v.relation, v.reason) for v in judged], model,
                           timeout=runtime.store.busy_timeout)  # fmt: skip
clusters.record_judgements(snakemake.params.database, [(v.a, v.b, v.relation, v.reason) for v in negations],
                           judge.NEGATION_RULE, timeout=runtime.store.busy_timeout)  # fmt: skip
failed = len(verdicts) - len(judged)
log.info("%s: %d candidate pairs, %d judged by the LLM, %d claims and their negations, %d not answered", vid,
         len(known), len(judged), len(negations), failed)  # fmt: skip
if failed:  # a pair the LLM could not answer fails the job: a plain rerun asks it again (the rest cached)
    raise judge.NotJudged(f"{vid}: {failed} of {len(asked)} candidate pairs not judged (the LLM did not answer)")
record = {"vid": vid, "pairs": len(known), "model": model, "usage": usage,
          "verdicts": [v.__dict__ for v in [*verdicts, *negations]], "negations": len(negations),
          "judged_at": time.time()}  # fmt: skip
atomic.write_json(snakemake.output.judged, record)
