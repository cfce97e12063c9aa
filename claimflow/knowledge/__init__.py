"""Mining and evaluation: the transcript in token windows (`chunk`), claims, jargon, people and
mental models asked of the LLM (`mine`) with every quote located in the transcript (`grounding`),
then merged, scored, tiered and ranked (`evaluate`); the versioned prompt files (`prompts/`, read
by claimflow/core/prompts.py); `jobs` is what both rules' scripts run."""
