"""Reading files a user names in bounded memory, whatever is in them.

Whole-file formats (a TOML config, a truth JSON) are refused above a size that no real
one comes near; line formats (the pose track CSV) are read a line at a time and a line
longer than any real one is refused, so a 2 GB file with no line break costs a few
kilobytes, not the whole file twice over (decoded text plus bytes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from station.errors import InputError

MAX_LINE_CHARS = 64 * 1024  # a pose track row is about 1 KB


def read_text_capped(path: Path, max_bytes: int) -> str:
    """The UTF-8 text of ``path``; :class:`InputError` when it is larger than ``max_bytes``.

    ``OSError`` and ``UnicodeDecodeError`` pass through for the caller to word.
    """
    with path.open("rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(f"{path}: larger than {max_bytes // 1024} KB: not the file expected here")
    return data.decode("utf-8")


def capped_lines(f: TextIO, max_chars: int = MAX_LINE_CHARS) -> Iterator[str]:
    """The lines of ``f`` (newlines kept, as ``csv.reader`` wants), refusing one longer than ``max_chars``."""
    number = 0
    while True:
        line = f.readline(max_chars + 1)
        if not line:
            return
        number += 1
        if len(line) > max_chars and not line.endswith(("\n", "\r")):
            raise InputError(f"line {number} is longer than {max_chars} characters")
        yield line
