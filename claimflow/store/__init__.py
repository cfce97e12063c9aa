"""The store: the SQLite database, its schema and migrations, the idempotent upsert per video
(`database`); reading it back (`query`: search, export, links to the moment); the batch's summary
and the run's counted last line (`summary`)."""
