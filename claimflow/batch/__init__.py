"""The batch: what to process. The sources file and config as videos and collections with stable
ids (`sources`), channels, playlists and feeds listed by a job (`collections`, `feeds`) and filtered
(`filters`), the batch's own terms (`vocabulary`), what the default target names (`targets`), and
partial work a plain rerun retries (`retries`)."""
