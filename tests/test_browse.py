"""`claimflow browse`: the results database in Datasette, described by claimflow/store/catalog.py.

The unit tests hold the catalogue to a database made by every migration (nothing undescribed,
nothing described that is not there) and docs/database.md to the catalogue. The workflow test
serves a real batch (the demo, a claim and its negation, a silent clip) with `claimflow browse`,
reads it in headless Chromium while a run stores more videos, and opens every saved query.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from claimflow.commands import browse
from claimflow.store import catalog
from claimflow.store import database as store
from tests.conftest import CLAIMFLOW, DEMO_CONFIG, REPO, run_workflow, write_silence
from tests.harness import browser

LINKING_CLIPS = REPO / "tests/fixtures/linking"


def _described(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """Every table and view a reader sees, with its columns (the full-text indexes' own excepted)."""
    found = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"):
        if name.startswith("sqlite_") or "fts" in name:
            continue
        found[name] = {row[1] for row in conn.execute(f"PRAGMA table_xinfo({name})")}
    return found


def test_every_table_and_column_of_the_database_is_described_and_nothing_else(tmp_path: Path):
    conn = store.connect(tmp_path / "c.sqlite")
    found = _described(conn)
    assert set(found) == set(catalog.BY_NAME)
    for name, columns in found.items():
        table = catalog.BY_NAME[name]
        assert set(table.columns) == columns, name
        assert all(text.strip() for text in table.columns.values()), name
        assert set(table.facets) <= columns and (table.label is None or table.label in columns), name
        if table.search:
            index, key = table.search
            assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (index,)).fetchone(), index
            conn.execute(f"SELECT {key} FROM {name} WHERE {key} IN (SELECT rowid FROM {index} LIMIT 1)")
        assert table.view == (conn.execute("SELECT type FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
                              == "view"), name  # fmt: skip


def test_the_saved_queries_run_on_the_current_schema(tmp_path: Path):
    conn = store.connect(tmp_path / "c.sqlite")
    for name, query in browse.QUERIES.items():
        conn.execute(query["sql"], {"person": "x", "collection": ""}).fetchall()  # raises on a missing name
        assert query["title"] and query["description"], name


def test_the_database_document_says_what_the_catalogue_says():
    document = browse.DOCUMENT.read_text()
    expected = browse.replace_in(document, browse.document())
    assert document == expected, "run `python -m claimflow.commands.browse --write-docs docs/database.md`"


def test_metadata_gives_datasette_each_tables_words_search_and_facets():
    meta = browse.metadata("claimflow", "claimflow: results")
    tables = meta["databases"]["claimflow"]["tables"]
    assert tables["claims"]["fts_table"] == "claims_fts" and tables["evidence"]["fts_pk"] == "evidence_id"
    assert tables["evaluations"]["facets"] == ["decision", "tier"]
    assert tables["videos"]["label_column"] == "title"
    assert tables["claims"]["columns"]["claim_text"] == catalog.BY_NAME["claims"].columns["claim_text"]
    assert set(meta["databases"]["claimflow"]["queries"]) == set(browse.QUERIES)


def test_a_local_moment_is_a_link_and_a_title_stays_text():
    linked = str(browse.render_cell('file:///talks/a "b".ogg#t=12', "moment"))
    assert linked == '<a href="file:///talks/a &quot;b&quot;.ogg#t=12">file:///talks/a &quot;b&quot;.ogg#t=12</a>'
    assert browse.render_cell("file:///x.ogg", "title") is None
    assert browse.render_cell("<script>", "moment") is None  # not an address: Datasette's own escaping


@pytest.mark.integration  # it listens on a port
def test_a_port_in_use_is_refused_naming_the_fix():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(browse.BrowseError, match=f"cannot listen on 127.0.0.1:{port}.*--port N"):
            browse.check_address("127.0.0.1", port)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def _serve(work: Path, port: int) -> subprocess.Popen:
    command = [*CLAIMFLOW, "browse", "--port", str(port), "--configfile", str(DEMO_CONFIG), str(work / "test.yaml")]
    server = subprocess.Popen(command, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=os.environ | {"CI": "true"})  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(port, "/-/versions.json")[0] == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError(f"claimflow browse did not start: {server.communicate()[0]}")


ROWS = "document.querySelectorAll('table.rows-and-columns tbody tr').length"


@pytest.mark.slow
def test_browse_serves_the_batch_in_chromium_beside_a_run_that_stores_more(demo_run: Path, tmp_path: Path):
    if browser.find() is None:
        pytest.skip("no Chromium here (Debian: apt-get install chromium; .ci/run installs it): browse not read")
    work = tmp_path / "batch"
    shutil.copytree(demo_run, work)
    added = [LINKING_CLIPS / "walking.ogg", LINKING_CLIPS / "walking-myth.ogg",
             write_silence(work / "silence.wav", 4.0)]  # fmt: skip
    sources = (REPO / "demo/sources.txt").read_text().splitlines()
    demo = [str(REPO / "demo" / Path(line).name) for line in sources if line.strip().endswith(".ogg")]
    (work / "sources.txt").write_text("".join(f"{line}\n" for line in [*demo, *map(str, added)]))
    config = yaml.safe_load((work / "test.yaml").read_text()) | {"sources": str(work / "sources.txt")}
    (work / "test.yaml").write_text(yaml.safe_dump(config))

    port = _free_port()
    server = _serve(work, port)
    try:
        # A reader in a loop the whole time the run stores three more videos: it never holds
        # a store job (WAL: a reader does not block a writer), and every page it asks answers.
        answers: list[int] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                answers.append(_get(port, "/claimflow/accepted_claims?_size=100")[0])

        reader = threading.Thread(target=read)
        reader.start()
        try:
            run = run_workflow(work, check=False)
        finally:
            stop.set()
            reader.join(60)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "5 ok" in run.stderr and "1 no speech" in run.stderr, run.stderr[-800:]
        assert len(answers) > 10 and set(answers) == {200}, answers[:20]

        conn = sqlite3.connect(work / "results/claimflow.sqlite")
        person = conn.execute("SELECT name FROM people ORDER BY vid, item_id").fetchone()
        with browser.Browser(width=1300, height=1000) as chromium:
            base = f"http://127.0.0.1:{port}/claimflow"
            chromium.open(f"{base}/claims")
            description = chromium.evaluate("document.querySelector('.metadata-description').textContent.trim()")
            columns = chromium.evaluate("[...document.querySelectorAll('.column-descriptions dt')].length")
            chromium.open(f"{base}/claims?_search=blood")
            searched = chromium.evaluate("[...document.querySelectorAll('td.col-claim_text')].map(t => t.textContent)")
            box = chromium.evaluate("document.querySelectorAll('input[name=_search]').length")
            chromium.open(f"{base}/evaluations")
            facets = chromium.evaluate("[...document.querySelectorAll('.facet-info')].map(f => f.dataset.column)")
            chromium.open(f"{base}/accepted_claims?_size=max")
            moments = chromium.evaluate("[...document.querySelectorAll('td.col-moment a')].map(a => a.href)")
            accepted = chromium.evaluate(ROWS)
            rendered = {}
            params = {"claims_about": f"?person={person[0] if person else 'walking'}", "collection_outcomes":
                      "?collection="}  # fmt: skip
            for name in browse.QUERIES:
                chromium.open(f"{base}/{name}{params.get(name, '')}")
                rendered[name] = chromium.evaluate(ROWS)
            chromium.open(f"{base}/not_ok")
            not_ok = chromium.evaluate("document.querySelector('table.rows-and-columns tbody').textContent")
            chromium.screenshot(tmp_path / "browse.png")
            errors = chromium.errors
        assert errors == []
        assert description == catalog.BY_NAME["claims"].description
        assert columns == len(catalog.BY_NAME["claims"].columns)
        assert box >= 1 and searched and all("blood" in text.lower() for text in searched), searched
        assert facets == ["decision", "tier"]
        assert accepted > 0 and len(moments) == accepted
        assert all(m.startswith("file:///") and "#t=" in m for m in moments), moments
        assert all(count > 0 for count in rendered.values()), rendered
        assert "no_speech" in not_ok and "file-silence" in not_ok
        assert (tmp_path / "browse.png").stat().st_size > 30_000
    finally:
        server.terminate()
        said = server.communicate(timeout=30)[0]
    assert "Traceback" not in said, said
