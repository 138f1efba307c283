"""Quality heuristics of the StarCoder data pipeline (Li et al. 2023, "StarCoder: may
the source be with you!", arXiv:2305.06161, §3 and appendix): files that are
mostly not hand-written code are dropped with a reason.

Thresholds are the paper's defaults and are configurable. Each check returns None
(keep) or a short reason string recorded in the exclusion output.
"""

from __future__ import annotations

from dataclasses import dataclass

from codecommons.config import field

# "data" languages are kept only when small: the paper removed large JSON/YAML/CSV
# files, which are data dumps rather than code.
DATA_LANGUAGES = {"JSON", "JSONLD", "YAML", "CSV", "TSV", "XML", "SQL", "Text only"}


@dataclass
class QualityConfig:
    max_line_length: int = field(1000, "drop files with a line longer than this")
    max_mean_line_length: float = field(100.0, "drop files whose mean line length is above this")
    min_alnum_fraction: float = field(0.25, "drop files with fewer alphanumeric characters")
    max_data_file_bytes: int = field(1 << 20, "drop data files (JSON, YAML, CSV…) larger than this")

    def __post_init__(self) -> None:
        assert self.max_line_length > 0 and self.max_mean_line_length > 0, "lengths must be > 0"
        assert 0 <= self.min_alnum_fraction <= 1, "min_alnum_fraction is a fraction"


def quality_reason(text: str, language: str | None, cfg: QualityConfig) -> str | None:
    lines = text.splitlines() or [""]
    longest = max(map(len, lines))
    if longest > cfg.max_line_length:
        return f"max_line_length>{cfg.max_line_length}"
    if sum(map(len, lines)) / len(lines) > cfg.max_mean_line_length:
        return f"mean_line_length>{cfg.max_mean_line_length:g}"
    if text and sum(c.isalnum() for c in text) / len(text) < cfg.min_alnum_fraction:
        return f"alnum_fraction<{cfg.min_alnum_fraction:g}"
    if language in DATA_LANGUAGES and len(text.encode("utf-8")) > cfg.max_data_file_bytes:
        return "large_data_file"
    return None
