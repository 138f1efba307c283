"""`commons train`: the command table.

    python -m pytest tests/train/test_cli.py -q
"""

from __future__ import annotations

from codecommons.__main__ import main as commons
from codecommons.train.cli import COMMANDS, main


def test_lists_its_commands_and_is_a_stage(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("tokenizer", "pretrain", "finetune"))
    assert commons(["--help"]) == 0 and "train" in capsys.readouterr().out


def test_unknown_command_names_the_valid_ones(capsys):
    assert main(["distill"]) == 2
    assert f"choose one of: {', '.join(COMMANDS)}" in capsys.readouterr().err


def test_bad_flags_are_reported_together():
    import pytest

    from codecommons.train import pretrain

    with pytest.raises(ValueError, match="--tokenizer is required\n--out is required\n--config must be one of"):
        pretrain.main(["data", "--config", "huge", "--max-steps", "1"])
