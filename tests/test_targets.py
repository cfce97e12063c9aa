"""The default target: each video's marker, plus exactly the products deleted since."""

from pathlib import Path

from claimflow.batch.targets import final_outputs
from claimflow.core.layout import PRODUCTS
from claimflow.core.layout import STORED as MARKER


def _video(results: Path, vid: str, names) -> None:
    folder = results / vid
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_text("{}")


def test_a_deleted_product_becomes_a_target_and_nothing_else_does(tmp_path: Path):
    results = tmp_path / "results"
    _video(results, "done", (*PRODUCTS, MARKER, "audio"))
    _video(results, "redo", (*(n for n in PRODUCTS if n != "claims.json"), MARKER))
    _video(results, "midway", ("download.json", "audio"))
    found = final_outputs(str(results), ["done", "redo", "midway", "new"])
    r = str(results)
    assert found[:3] == [f"{r}/done/{MARKER}", f"{r}/redo/{MARKER}", f"{r}/redo/claims.json"]
    # a video in flight names what it still lacks (needed anyway); one never started, its marker
    assert found[3:] == [f"{r}/midway/{MARKER}"] + [f"{r}/midway/{n}" for n in PRODUCTS[1:]] + [f"{r}/new/{MARKER}"]


def test_the_audio_is_not_a_product_so_deleting_it_downloads_nothing(tmp_path: Path):
    results = tmp_path / "results"
    _video(results, "done", (*PRODUCTS, MARKER))  # audio deleted to free the disk
    assert final_outputs(str(results), ["done"]) == [f"{results}/done/{MARKER}"]


def test_without_look_no_folder_is_read(tmp_path: Path):
    results = tmp_path / "results"
    _video(results, "redo", (MARKER,))
    assert final_outputs(str(results), ["redo"], look=False) == [f"{results}/redo/{MARKER}"]
    assert final_outputs(str(tmp_path / "absent"), ["x"]) == [f"{tmp_path}/absent/x/{MARKER}"]
