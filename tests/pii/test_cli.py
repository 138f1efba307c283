"""`commons pii redact`: a file, stdin, --json, --kinds, and the errors.

    python -m pytest tests/pii/test_cli.py -q
"""

from __future__ import annotations

import io
import json
import sys

from codecommons.pii import ALL_KINDS
from codecommons.pii.cli import main

TEXT = 'contact jane.doe@gmail.com\nHOST = "93.184.216.34"\npassword = "hunter2"\n'


def test_redacts_a_file(tmp_path, capsys):
    path = tmp_path / "config.py"
    path.write_text(TEXT)
    assert main(["redact", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("contact <EMAIL>\nHOST = \"")
    assert out.endswith('password = "<PASSWORD>"\n')
    assert "93.184.216.34" not in out and "hunter2" not in out


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_reads_stdin_with_dash_or_no_file(monkeypatch, capsys):
    for argv in (["redact", "-"], ["redact"]):
        _stdin(monkeypatch, TEXT.encode())
        assert main(argv) == 0
        assert "<EMAIL>" in capsys.readouterr().out


def test_json_lists_findings_with_values(tmp_path, capsys):
    path = tmp_path / "a.env"
    path.write_text(TEXT)
    assert main(["redact", str(path), "--json", "--kinds", "email,password"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["value"], r["detector"]) for r in rows] == [
        ("email", "jane.doe@gmail.com", "email-regex"), ("password", "hunter2", "password-assignment")]
    assert all(TEXT[r["start"]:r["end"]] == r["value"] for r in rows)


def test_missing_file_is_exit_2(tmp_path, capsys):
    assert main(["redact", str(tmp_path / "nope.py")]) == 2
    err = capsys.readouterr().err
    assert "nope.py" in err and "No such file" in err


def test_unknown_kind_is_exit_2_and_lists_kinds(tmp_path, capsys):
    path = tmp_path / "a.py"
    path.write_text(TEXT)
    assert main(["redact", str(path), "--kinds", "email,phone"]) == 2
    err = capsys.readouterr().err
    assert "'phone'" in err and all(k in err for k in ALL_KINDS)


def test_usage_errors_are_exit_2(capsys):
    assert main([]) == 2
    assert main(["redact", "--frobnicate"]) == 2
    assert main(["--help"]) == 0


def test_invalid_utf8_passes_through_byte_for_byte(monkeypatch, capsysbinary):
    data = b"bin \xff\xfe\x80 mail jane.doe@gmail.com \xc3\n"
    _stdin(monkeypatch, data)
    assert main(["redact"]) == 0
    out, err = capsysbinary.readouterr()
    assert out == b"bin \xff\xfe\x80 mail <EMAIL> \xc3\n"
    assert b"not valid UTF-8" in err
