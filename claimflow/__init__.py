"""claimflow: turn online videos into searchable, scored claims.

The Snakemake workflow (Snakefile, rules/) declares the stages; this package holds all
their logic so it can be imported, unit-tested and reused outside Snakemake.
"""

__version__ = "0.1.0"
