"""The report from a real demo run: part of the default target, `snakemake report` at any
moment without waiting for unfinished videos, Snakemake's own report with the figures, and the
HTML rendered in a real headless Chromium."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from claimflow.commands.report import FIGURES
from tests.conftest import demo_with_an_extra_video, run_workflow
from tests.harness import browser

pytestmark = pytest.mark.slow


def test_the_default_target_ends_with_the_report_and_its_figures(demo_run: Path):
    results = demo_run / "results"
    assert (results / "report.html").stat().st_size > 10_000
    assert sorted(p.stem for p in (results / "report").glob("*.svg")) == sorted(FIGURES)


def test_snakemake_report_runs_at_any_moment_without_waiting_for_unfinished_videos(demo_run: Path, tmp_path: Path):
    work = demo_with_an_extra_video(demo_run, tmp_path / "batch")
    before = (work / "results/report.html").stat().st_mtime_ns
    run = run_workflow(work, targets=("report",))
    output = run.stdout + run.stderr
    assert "1 of 1 steps (100%) done" in output and "rule download" not in output
    assert not (work / "results/file-extra").exists()  # nothing was downloaded for it
    page = (work / "results/report.html").read_text()
    assert (work / "results/report.html").stat().st_mtime_ns != before
    # Pending videos are counted by stage (thousands mid-batch), not listed one by one.
    assert "Pending (not reached yet, or outside this run's target): 1 at download." in page
    assert "<td>file-extra</td>" not in page
    summary = (work / "results/summary.tsv").read_text().splitlines()
    assert len(summary) == 5 and any(line.startswith("file-extra\tpending:download") for line in summary)
    assert "claimflow: 4 videos: 3 ok" in output


def test_snakemakes_own_report_holds_the_figures_and_the_summary(demo_run: Path, tmp_path: Path):
    archive = tmp_path / "report.zip"
    run_workflow(demo_run, "--report", str(archive))
    names = zipfile.ZipFile(archive).namelist()
    for name in FIGURES:
        assert any(n.endswith(f"/{name}.svg") for n in names), (name, names)
    assert any(n.endswith("/summary.tsv") for n in names)


def test_the_report_renders_in_chromium_with_every_plot_drawn(demo_run: Path, tmp_path: Path):
    if browser.find() is None:
        pytest.skip("no Chromium here (Debian: apt-get install chromium; .ci/run installs it): report not rendered")
    page = (demo_run / "results/report.html").resolve()
    assert "http://" not in page.read_text().split("<body>", 1)[0]  # nothing fetched at view time
    with browser.Browser(width=1200, height=900) as chromium:
        chromium.open(page.as_uri())
        drawn = chromium.evaluate("""
            Object.fromEntries([...document.querySelectorAll('figure')].map(f => {
                const svg = f.querySelector('svg'), box = svg.getBoundingClientRect();
                const data = [...svg.querySelectorAll('[id*="-data-"]')].filter(e => {
                    const r = e.getBoundingClientRect(); return r.width > 0 || r.height > 0; });
                return [f.id, {width: box.width, height: box.height, data: data.length}];
            }))""")
        links = chromium.evaluate("[...document.querySelectorAll('td')].map(t => t.textContent).join(' ')")
        header = chromium.evaluate("document.querySelector('.meta').textContent")
        columns = chromium.evaluate("[...document.querySelectorAll('#outcomes th')].map(t => t.textContent)")
        moments = chromium.evaluate("[...document.querySelectorAll('details a')].map(a => a.href)")
        opened = chromium.evaluate("[...document.querySelectorAll('details')].filter(d => d.open).length")
        shot = tmp_path / "report.png"
        chromium.screenshot(shot)
        errors = chromium.errors
    assert errors == []
    assert sorted(drawn) == sorted(f"fig-{name}" for name in FIGURES)
    for name, figure in drawn.items():
        assert figure["width"] > 300 and figure["height"] > 150, (name, figure)
        assert figure["data"] >= 1, (name, figure)  # a plot with data, not an empty frame
    assert "sleep.ogg at 0:00:" in links  # the moment of a top claim
    # The header: when, from what, and where the batch stands; outcomes in a reader's order.
    assert header.startswith("generated 20") and f"results {demo_run / 'results'}" in header
    # Made by the run's own report rule: every video done, the run not ended yet.
    assert "config " in header and "test.yaml" in header and "every video is done; the run is finishing" in header
    assert columns[:4] == ["videos", "ok", "failed", "unavailable"]
    # Per-video detail is closed, and a local file's moment is a link the browser's player seeks to.
    assert opened == 0
    assert moments and all(m.startswith("file:///") and "#t=" in m for m in moments), moments
    assert shot.stat().st_size > 50_000
