"""Cookie files: the user's Netscape-format exports, checked at start and never modified.

A cookie file is a logged-in session the user exported from a browser; it is theirs. yt-dlp
writes its cookie jar back to the file it was given when it closes (rewriting it in its own
format: `#HttpOnly_` marks dropped, entries it could not read gone), so yt-dlp is only ever
given a private copy, made per job in a private temporary folder and removed when the job's
yt-dlp is closed. What yt-dlp learns during a job (a refreshed cookie) is dropped with that
copy: keeping it would put a session in `state/`, which holds no secrets, and the user's export
stays the one source of an account's session (a replaced file re-enables a disabled account).

The checks mirror what reads the file (yt-dlp's YoutubeDLCookieJar over http.cookiejar): seven
tab-separated fields per entry, `#HttpOnly_` entries, `#` comments, an expiry that is empty or
a number of seconds, the subdomain flag agreeing with a leading dot. Every problem names the
file and the line number, never a cookie's name or value: those two libraries print the whole
line (value included) when they skip or refuse one, which is why a file is refused here first.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from claimflow.core.logs import register_secret

HTTPONLY_PREFIX = "#HttpOnly_"
FIELDS = ("domain", "include_subdomains", "path", "secure", "expiry", "name", "value")
# yt-dlp's own rule for the expiry field (yt_dlp/cookies.py), and the last second a date can hold.
_EXPIRY = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z
# Shorter values are not session secrets ("1", "en", "YES") and masking them would garble logs.
SECRET_MIN_LENGTH = 8
FIX = "export the account's cookies again (Netscape format, e.g. with a cookies.txt browser extension)"


class CookieFileError(ValueError):
    """A cookie file that cannot be used; the message names the file, the line and the fix."""


class MissingCookieFile(CookieFileError, FileNotFoundError):
    """The configured cookie file is not there."""


@dataclass(frozen=True)
class CookieFile:
    path: Path
    entries: int  # cookie entries read (comments and blank lines aside)
    httponly: int  # of them marked #HttpOnly_


def _line_problem(fields: list[str]) -> str | None:
    """What is wrong with one entry's fields, in words that never quote its name or value."""
    if len(fields) != len(FIELDS):
        hint = " (fields must be separated by tabs, not spaces)" if len(fields) < 3 else ""
        return f"{len(fields)} fields where a cookie entry has 7{hint}"
    domain, subdomains, _path, _secure, expiry, _name, _value = fields
    if expiry and not _EXPIRY.fullmatch(expiry):
        return f"its expiry {expiry[:40]!r} is not a number of seconds"
    if expiry and float(expiry) > _LAST_SECOND:
        return f"its expiry {expiry[:40]} is beyond the year 9999"
    if (subdomains == "TRUE") != domain.startswith("."):
        return (f"its subdomains field is {subdomains[:10]!r} but the domain "
                f"{'starts' if domain.startswith('.') else 'does not start'} with a dot (TRUE goes with a "
                "leading dot, FALSE without)")  # fmt: skip
    return None


def check(path: str | os.PathLike[str], account: str | None = None) -> CookieFile:
    """Read and check a cookie file; register its values as secrets (masked in every log).
    Raises CookieFileError naming the account, the file and the first bad lines."""
    where = f"account {account}: cookie file {path}" if account else f"cookie file {path}"
    try:
        raw = Path(path).expanduser().read_bytes()
    except FileNotFoundError:
        raise MissingCookieFile(f"{account or 'account'}: cookie file not found ({path}); {FIX} to that path, "
                                "or remove `cookies` from the account to download anonymously") from None  # fmt: skip
    except OSError as error:
        raise CookieFileError(f"{where} cannot be read ({error.strerror}); make it readable by this user "
                              "(chmod 600)") from None  # fmt: skip
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CookieFileError(f"{where} is not UTF-8 text (byte {error.start}); {FIX}") from None
    if text.lstrip()[:1] in ("[", "{"):
        raise CookieFileError(f"{where} is a JSON export, not Netscape format; {FIX}")
    problems, entries, httponly, values = [], 0, 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(HTTPONLY_PREFIX):
            line = line[len(HTTPONLY_PREFIX) :]
            marked = True
        else:
            marked = False
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if problem := _line_problem(fields):
            problems.append(f"line {number}: {problem}")
            values.append(fields[-1])  # what is most likely its value: masked all the same
            continue
        entries += 1
        httponly += marked
        values.append(fields[6])
    for value in values:  # before any error is raised: a value is never printed either way
        if len(value) >= SECRET_MIN_LENGTH:
            register_secret(value)
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise CookieFileError(f"{where} is not a valid Netscape cookie file: {shown}. Fix: {FIX}; "
                              "claimflow never changes the file itself")  # fmt: skip
    return CookieFile(Path(path), entries, httponly)


@contextlib.contextmanager
def private_copy(path: str | os.PathLike[str] | None) -> Iterator[str | None]:
    """A copy of the cookie file for one yt-dlp instance to read and write back, in a private
    temporary folder (mode 700, the file 600) outside results/ and state/, removed afterwards.
    None for an anonymous account."""
    if not path:
        yield None
        return
    folder = tempfile.mkdtemp(prefix="claimflow-cookies-")
    try:
        copy = Path(folder) / "cookies.txt"
        descriptor = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Path(path).expanduser().read_bytes())
        yield str(copy)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
