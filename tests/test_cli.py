"""`commons` entry point and `commons models`.

    python -m pytest tests/test_cli.py -q
"""

from __future__ import annotations

import json
import subprocess
import sys

from codecommons.__main__ import STAGES, main


def test_help_lists_every_stage(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for stage in STAGES:
        assert stage in out


def test_unknown_stage_lists_valid_ones(capsys):
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "serve" in err and "models" in err


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "codecommons", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "serve" in out


def test_models_json_shows_id_family_context_license(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} == {"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"}
    assert all(r["license"] == "Apache-2.0" and r["context_length"] == 32768 for r in rows)


def test_models_show_a_gguf(capsys, tiny_gguf):
    assert main(["models", "--show", str(tiny_gguf), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["family"] == "qwen2.5-coder"


def test_serve_rejects_bad_config_with_flag_names(capsys):
    try:
        main(["serve", "--port", "0"])
    except SystemExit as e:
        assert e.code == 2
    assert "--port" in capsys.readouterr().err


def test_serve_unknown_model_is_a_clear_error(capsys):
    assert main(["serve", "--model", "nope"]) == 1
    assert "unknown model 'nope'" in capsys.readouterr().err
