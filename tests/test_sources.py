from pathlib import Path

import pytest

from claimflow.batch.sources import ID_PATTERN, SourceError, read_batch, read_sources, resolve
from tests.conftest import DEMO


def test_youtube_url_forms_share_one_id_and_are_processed_once():
    sources = read_sources(
        [
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://youtu.be/dQw4w9WgXcQ",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42",
        ]
    )
    assert [s.vid for s in sources] == ["youtube-dQw4w9WgXcQ"]


def test_local_path_and_its_file_url_are_one_video(tmp_path: Path):
    clip = DEMO / "sleep.ogg"
    sources = read_sources([str(clip), clip.as_uri()], cwd=tmp_path)
    assert len(sources) == 1
    assert sources[0].vid == "file-sleep"
    assert sources[0].url == clip.as_uri()


def test_sources_file_resolves_paths_relative_to_itself_and_skips_comments(tmp_path: Path):
    media = tmp_path / "media"
    media.mkdir()
    (media / "talk one.m4a").write_bytes(b"x")
    listing = media / "list.txt"
    listing.write_text("# my batch\n\ntalk one.m4a   # first\nhttps://vimeo.com/76979871\n")
    sources = read_sources(str(listing), cwd=Path("/"))
    assert [s.vid for s in sources] == ["file-talk_one", "vimeo-76979871"]
    assert sources[0].where == "list.txt:3"


def test_ids_are_wildcard_safe_even_for_hostile_names(tmp_path: Path):
    import re

    odd = tmp_path / "$(rm -rf ~); `x` ü.ogg"
    odd.write_bytes(b"x")
    generic = resolve("http://127.0.0.1:8000/a b/$(x).m4a?q=1", tmp_path, "t")
    for vid in (read_sources([str(odd)])[0].vid, generic.vid):
        assert re.fullmatch(ID_PATTERN, vid), vid


def test_two_different_files_with_one_name_keep_distinct_ids(tmp_path: Path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "talk.ogg").write_bytes(b"x")
    sources = read_sources([str(tmp_path / "a/talk.ogg"), str(tmp_path / "b/talk.ogg")])
    assert len({s.vid for s in sources}) == 2


def test_missing_local_file_names_the_line_and_the_fix(tmp_path: Path):
    listing = tmp_path / "videos.txt"
    listing.write_text("nope.ogg\n")
    with pytest.raises(SourceError, match=r"videos.txt:1: local media file 'nope.ogg' was not found"):
        read_sources(str(listing))


def test_missing_sources_file_says_which_key_to_set(tmp_path: Path):
    with pytest.raises(SourceError, match="Set `sources:`"):
        read_sources("missing.txt", cwd=tmp_path)


def test_a_playlist_line_is_a_collection_not_a_video():
    batch = read_batch(["https://www.youtube.com/playlist?list=PL590L5WQmH8fJ54F369BLDSqIwcs-TCfs"])
    assert batch.videos == []
    (playlist,) = batch.collections
    assert playlist.cid == "youtubetab-PL590L5WQmH8fJ54F369BLDSqIwcs-TCfs" and playlist.kind == "YoutubeTab"


def test_unsupported_scheme_is_named():
    with pytest.raises(SourceError, match="unsupported scheme 'ftp'"):
        read_sources(["ftp://example.org/a.mp3"])


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("https://", "'https://' is not a valid web address: it has no host"),
        ("http:/example.com/a.mp3", "is not a valid web address: it has no host"),
        ("https://exa mple.com/a.mp3", "is not a valid web address: its host holds a space"),
        (
            "www.youtube.com/watch?v=dQw4w9WgXcQ",
            "write it with its scheme: https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        ),
    ],
)
def test_an_invalid_web_address_names_the_line_the_problem_and_the_fix(tmp_path: Path, line, said):
    listing = tmp_path / "videos.txt"
    listing.write_text(f"# my batch\n{line}\n")
    with pytest.raises(SourceError, match=r"videos.txt:2: ") as raised:
        read_sources(str(listing))
    assert said in str(raised.value)


def test_a_missing_file_named_like_a_file_gets_no_web_address_hint(tmp_path: Path):
    with pytest.raises(SourceError) as raised:
        read_sources(["talk.ogg"], cwd=tmp_path)
    assert "web address" not in str(raised.value)


def test_a_byte_order_mark_and_a_tab_before_a_comment_are_not_part_of_the_address(tmp_path: Path):
    listing = tmp_path / "videos.txt"
    # An editor on Windows saves a BOM; a tab before the comment is as common as a space.
    listing.write_bytes("\ufeffhttps://www.youtube.com/watch?v=dQw4w9WgXcQ\t# the talk\n"
                        "https://youtu.be/dQw4w9WgXcQ # the same video\n".encode())  # fmt: skip
    (video,) = read_sources(str(listing))
    assert video.vid == "youtube-dQw4w9WgXcQ" and video.url == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def test_an_empty_sources_file_is_named_not_run_silently(tmp_path: Path):
    listing = tmp_path / "videos.txt"
    listing.write_text("# the batch, one URL a line\n\n   \n")
    with pytest.raises(
        SourceError, match="names no video, channel, playlist or feed .* every line is blank or a comment"
    ):
        read_batch(str(listing))
    with pytest.raises(SourceError, match="`sources:` is an empty list"):
        read_batch([])


@pytest.mark.parametrize(
    "line",
    [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf&index=3",
        "https://youtu.be/dQw4w9WgXcQ?list=PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=RDdQw4w9WgXcQ&start_radio=1",
    ],
)
def test_a_video_opened_from_a_playlist_is_that_video(line):
    batch = read_batch([line])
    assert batch.collections == [] and [v.vid for v in batch.videos] == ["youtube-dQw4w9WgXcQ"]
    assert "list=" not in batch.videos[0].url
