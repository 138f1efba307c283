"""StarCoder's quality heuristics with their drop reasons.

    python -m pytest tests/data/test_quality.py -q
"""

from __future__ import annotations

from codecommons.data.quality import QualityConfig, quality_reason

CFG = QualityConfig()


def test_normal_code_kept():
    assert quality_reason("def f(x):\n    return x + 1\n", "Python", CFG) is None


def test_each_heuristic_has_its_reason():
    assert quality_reason("x = '" + "a" * 1200 + "'\n", "Python", CFG).startswith("max_line_length")
    assert quality_reason(("y" * 150 + "\n") * 10, "Python", CFG).startswith("mean_line_length")
    assert quality_reason("{}[]()<>;;;;====\n" * 20, "Python", CFG).startswith("alnum_fraction")
    assert quality_reason('{"name": "value1234"}\n' * 60_000, "JSON", CFG) == "large_data_file"


def test_thresholds_are_configurable():
    loose = QualityConfig(max_line_length=5000)
    assert quality_reason("x = '" + "a" * 1200 + "'\n" + "y = 1\n" * 20, "Python", loose) is None
