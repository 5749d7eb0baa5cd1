"""Child output on Windows (bootstrap.process.Utf8Output), tested on every platform:
UTF-8 kept, the console code page that cmd.exe writes read as such, so the log and the
console show the same text."""

from __future__ import annotations

import pytest

from bootstrap.process import Utf8Output

TEXT = "Zoë ü 100% é"


@pytest.mark.parametrize("page", ["cp850", "cp437", "cp1252"])
def test_code_page_output_becomes_utf8(page: str) -> None:
    out = Utf8Output(page)
    assert out.feed(f"{TEXT}\r\n".encode(page)) == f"{TEXT}\r\n".encode()
    assert out.feed(b"", final=True) == b""


def test_utf8_output_stays_as_it_is_also_when_cut_inside_a_character() -> None:
    data = "日本語 é\n".encode()
    out = Utf8Output("cp850")
    pieces = [out.feed(data[i:i + 1]) for i in range(len(data))]
    assert b"".join(pieces) == data
    assert pieces[0] == b"", "a cut character waits for its other bytes"


def test_a_cut_that_never_completes_is_read_in_the_code_page() -> None:
    out = Utf8Output("cp1252")
    assert out.feed(b"ok \xc3") == b"ok "
    assert out.feed(b"", final=True) == "Ã".encode()


def test_mixed_output_of_python_and_cmd() -> None:
    out = Utf8Output("cp850")
    assert out.feed("from python: é\n".encode()) == "from python: é\n".encode()
    assert out.feed("from cmd: é\n".encode("cp850")) == "from cmd: é\n".encode()
