"""``gait-station serve``: one-line errors for a bad --db and a port in use; --set-password."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from station.cli import main
from station.store import Store
from web.auth import PASSWORD_KEY


def _one_line_error(capsys: pytest.CaptureFixture[str], rc: int) -> str:
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_bad_db_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["serve", "--db", str(tmp_path)])
    assert "directory" in _one_line_error(capsys, rc)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    rc = main(["serve", "--db", str(garbage), "--port", "1"])
    assert "not a database" in _one_line_error(capsys, rc)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["serve", "--db", str(blocker / "sub" / "gait.db")])
    assert _one_line_error(capsys, rc).startswith("gait-station: database ")


def test_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        rc = main(["serve", "--db", str(tmp_path / "g.db"), "--host", "127.0.0.1", "--port", str(port)])
    err = _one_line_error(capsys, rc)
    assert f"port {port}" in err and "in use" in err


def test_set_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "g.db"
    answers = iter(["a good password", "a good password"])
    monkeypatch.setattr("click.termui.visible_prompt_func", lambda prompt="": next(answers))
    monkeypatch.setattr("click.termui.hidden_prompt_func", lambda prompt="": next(answers))
    assert main(["serve", "--db", str(db), "--set-password"]) == 0
    with Store(db) as s:
        assert check_password_hash(s.get_meta(PASSWORD_KEY), "a good password")
    short = iter(["short", "short"])
    monkeypatch.setattr("click.termui.hidden_prompt_func", lambda prompt="": next(short))
    rc = main(["serve", "--db", str(db), "--set-password"])
    assert "at least 8" in _one_line_error(capsys, rc)
