"""The `claimflow` command's entry point: installed scripts name `claimflow.cli:main`, so it stays
here whatever moves (a batch updated mid-run keeps its `.venv/bin/claimflow` working)."""

import sys

from claimflow.commands.cli import main

if __name__ == "__main__":
    sys.exit(main())
