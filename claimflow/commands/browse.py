"""`claimflow browse`: the results database in Datasette, read-only, beside a running batch.

Datasette opens a database that may change with read-only connections (`mode=ro`), and in WAL
mode a reader never blocks a store job's write. Its metadata (the tables' titles and
descriptions, the columns', facets, the full-text index of each table) is made here from
claimflow/store/catalog.py, the one place the database is described; docs/database.md is
written from the same (`python -m claimflow.commands.browse --write-docs docs/database.md`).
"""

from __future__ import annotations

import argparse
import html
import ipaddress
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn
from datasette import hookimpl
from datasette.app import Datasette
from datasette.plugins import pm
from markupsafe import Markup

from claimflow.commands import configdoc
from claimflow.store import catalog
from claimflow.store import database as store

DOCUMENT = Path(__file__).resolve().parents[2] / "docs/database.md"
BEGIN = "<!-- the tables, written by `python -m claimflow.commands.browse --write-docs docs/database.md` -->"
END = "<!-- end of the tables -->"

# The questions people bring to a batch, as Datasette's canned queries (read-only SQL, named
# parameters become a form). Each reads the views and tables of schema 15.
QUERIES: dict[str, dict[str, Any]] = {
    "top_claims": {
        "title": "Top claims of the batch",
        "description": "The accepted claims with the highest scores across every video, with the moment each is said.",
        "sql": "SELECT title, claim_text, tier, score, at, moment, vid, claim_id FROM accepted_claims\n"
        "ORDER BY score DESC, vid, rank LIMIT 100",
    },
    "contested_claims": {
        "title": "Contested claims",
        "description": "Claims of different videos the LLM judged to contradict each other (the link stage).",
        "sql": "SELECT a, a_text, b, b_text, reason, model FROM contested_claims ORDER BY a, b",
    },
    "claims_about": {
        "title": "Claims about a person",
        "description": "Accepted claims that name the person, or are said in a segment where the person is named.",
        "sql": "SELECT a.title, a.claim_text, a.tier, a.score, a.at, a.moment, a.vid, a.claim_id\n"
        "FROM accepted_claims a\n"
        "WHERE a.claim_text LIKE '%' || :person || '%' OR EXISTS (\n"
        "  SELECT 1 FROM people p\n"
        "  JOIN evidence m ON m.vid = p.vid AND m.owner_kind = 'person' AND m.owner_id = p.item_id\n"
        "  JOIN evidence q ON q.vid = p.vid AND q.owner_kind = 'claim' AND q.owner_id = a.claim_id\n"
        "    AND q.segment_id = m.segment_id\n"
        "  WHERE p.vid = a.vid AND p.name LIKE '%' || :person || '%')\n"
        "ORDER BY a.score DESC, a.vid, a.rank",
    },
    "collection_outcomes": {
        "title": "A collection's videos by outcome",
        "description": "How many of a collection's videos (all collections when left empty) ended in each outcome, "
        "and which; a video of no collection is under (none).",
        "sql": "SELECT COALESCE(cv.cid, '(none)') AS collection, o.status AS outcome, COUNT(*) AS videos,\n"
        "  group_concat(o.vid, ' ') AS vids\n"
        "FROM outcomes o LEFT JOIN collection_videos cv ON cv.vid = o.vid AND cv.kept = 1\n"
        "WHERE :collection = '' OR cv.cid = :collection\n"
        "GROUP BY collection, outcome ORDER BY collection, videos DESC",
    },
    "not_ok": {
        "title": "Videos that did not end ok, and why",
        "description": "Every video whose last run ended other than ok (failed, unavailable, partial, held by the "
        "budget, interrupted or pending), with the reason, as results/summary.tsv says.",
        "sql": "SELECT vid, status, reason, reason_class, title FROM outcomes WHERE status != 'ok'\n"
        "ORDER BY status, vid",
    },
}

# The columns whose values are places to open: a link also for a local file (Datasette links
# http and https addresses by itself).
LINK_COLUMNS = ("moment", "source", "url")


def metadata(name: str, title: str) -> dict[str, Any]:
    """Datasette's metadata for the database Datasette calls `name`."""
    tables: dict[str, Any] = {}
    for table in catalog.TABLES:
        entry: dict[str, Any] = {"title": table.title, "description": table.description, "columns": table.columns}
        if table.label:
            entry["label_column"] = table.label
        if table.facets:
            entry["facets"] = list(table.facets)
        if table.search:
            entry["fts_table"], entry["fts_pk"] = table.search
        if table.sort_desc:
            entry["sort_desc"] = table.sort_desc
        if table.name in ("video_vectors", "said_codes", "meta"):  # blobs and ids: not for reading
            entry["hidden"] = True
        tables[table.name] = entry
    return {
        "title": title,
        "description": "What a claimflow batch found: videos, transcripts, claims and their scores, the quotes "
        "that ground them, people, terms, summaries and the claims linked across videos.",
        "databases": {name: {"tables": tables, "queries": QUERIES}},
    }


# This module is a Datasette plugin (Datasette takes modules), with one hook:
@hookimpl
def render_cell(value: Any, column: str) -> Any:
    """The moment, source and URL columns as links."""
    if column in LINK_COLUMNS and isinstance(value, str) and value.startswith(("file://", "http://", "https://")):
        return Markup(f'<a href="{html.escape(value)}">{html.escape(value)}</a>')
    return None


class BrowseError(ValueError):
    """The browse cannot start: the message names why and the fix."""


def check_address(host: str, port: int) -> None:
    """The address is free (a clear error now rather than a server's traceback)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise BrowseError(f"cannot listen on {host}:{port} ({exc.strerror}): another program has the port, "
                              "or the address is not this machine's; name another with --port N") from None  # fmt: skip


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def app(database: Path, title: str) -> Any:
    """The Datasette ASGI application over `database` (migrated to this claimflow's schema first)."""
    if not database.is_file():
        raise BrowseError(f"no database at {database}: nothing is stored yet (run the workflow first)")
    store.connect(database).close()  # a database of an earlier claimflow: its views and search, as a store job would
    if not pm.has_plugin("claimflow"):
        pm.register(sys.modules[__name__], name="claimflow")
    name = database.stem
    datasette = Datasette(
        [str(database)],
        metadata=metadata(name, title),
        settings={"suggest_facets": False, "sql_time_limit_ms": 5000, "allow_download": False},
    )
    return datasette.app()


def serve(database: Path, host: str, port: int, title: str) -> None:
    application = app(database, title)
    uvicorn.run(application, host=host, port=port, log_level="warning")


def _table_doc(table: catalog.Table) -> list[str]:
    kind = "view" if table.view else "table"
    lines = [f"### {table.title} ({kind} {table.name})", "", table.description, "", "| column | holds |",
             "| --- | --- |"]  # fmt: skip
    lines += [f"| {column} | {text.replace('|', '/')} |" for column, text in table.columns.items()]
    return [*lines, ""]


def document() -> str:
    """docs/database.md's generated part: every table and view, then the saved queries."""
    lines = [line for table in catalog.TABLES for line in _table_doc(table)]
    lines += ["## Saved queries (claimflow browse)", ""]
    lines += [f"- **{query['title']}**: {query['description']}" for query in QUERIES.values()]
    return "\n".join(lines)


def replace_in(text: str, rendered: str) -> str:
    return configdoc.replace_in(text, rendered, BEGIN, END)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-docs", type=Path, help="rewrite the tables' part of this file")
    args = parser.parse_args()
    if args.write_docs:
        args.write_docs.write_text(replace_in(args.write_docs.read_text(), document()))
    else:
        print(document())


if __name__ == "__main__":
    main()
