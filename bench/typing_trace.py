"""A deterministic editor typing trace over a real Python file, for FIM latency benchmarks.

The file is the standard library's shlex.py (350 lines in CPython 3.11). The cursor
starts at the beginning of line CURSOR_LINE; the user then types the next TYPED_LINES
lines a few characters at a time (chunks of 3-6 characters from a seeded RNG). At
step k the editor sends

    prefix = file[:cursor] + typed[:n_k]     (everything before the cursor, as is)
    suffix = file[end of typed region:]      (the same at every step, capped at 3,000 chars)

    python bench/typing_trace.py               # print the trace's shape
"""

from __future__ import annotations

import hashlib
import random
import shlex
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(shlex.__file__)
CURSOR_LINE = 185  # 1-based: "            elif self.state in self.quotes:" in read_token
TYPED_LINES = 40
SUFFIX_CHARS = 3000
SEED = 1234


@dataclass
class Trace:
    source: str  # file name
    sha256: str
    n_lines: int
    cursor_line: int
    prefix0: str  # text before the cursor
    typed: str  # the text the user types
    suffix: str
    cuts: list[int]  # typed[:cuts[k]] has been typed at step k

    def step(self, k: int) -> tuple[str, str]:
        return self.prefix0 + self.typed[: self.cuts[k]], self.suffix


def build(max_steps: int, seed: int = SEED) -> Trace:
    text = SOURCE.read_text()
    lines = text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: CURSOR_LINE - 1])
    end = sum(len(line) for line in lines[: CURSOR_LINE - 1 + TYPED_LINES])
    rng = random.Random(seed)
    cuts, n = [], 0
    while n < end - start and len(cuts) < max_steps:
        n = min(n + rng.randint(3, 6), end - start)
        cuts.append(n)
    return Trace(SOURCE.name, hashlib.sha256(text.encode()).hexdigest(), len(lines),
                 CURSOR_LINE, text[:start], text[start:end], text[end:end + SUFFIX_CHARS], cuts)


if __name__ == "__main__":
    t = build(150)
    print(f"{t.source} ({t.n_lines} lines, sha256 {t.sha256[:12]}): cursor at line {t.cursor_line}, "
          f"prefix {len(t.prefix0)} chars, typing {len(t.typed)} chars in chunks of 3-6, "
          f"suffix {len(t.suffix)} chars; {len(t.cuts)} steps type {t.cuts[-1]} chars")
    p, _ = t.step(len(t.cuts) - 1)
    print("last step's prefix ends with:\n" + p[-300:])


def body(prefix: str, suffix: str, max_tokens: int, extra: dict | None = None) -> dict:
    """One non-streaming FIM /v1/completions body, greedy (fields `extra` added)."""
    return {"prompt": prefix, "suffix": suffix, "max_tokens": max_tokens, "temperature": 0,
            **(extra or {})}


def request(c, base: str, step: int, req: dict) -> dict:
    """POST one completion on client `c`; its record: wall time, tokens, context used."""
    import time

    t0 = time.perf_counter()
    resp = c.post(base + "/v1/completions", json=req)
    dt = time.perf_counter() - t0
    resp.raise_for_status()
    data = resp.json()
    usage, choice = data["usage"], data["choices"][0]
    return {"step": step, "ms": dt * 1000, "prompt": usage["prompt_tokens"],
            "chunks": [f"{ch['path']}:{ch.get('start_line', 0)}-{ch.get('end_line', 0)}"
                       for ch in choice.get("context") or []],
            "cached": usage.get("prompt_tokens_details", {}).get("cached_tokens", 0),
            "generated": usage["completion_tokens"],
            # prompt tokens the server evaluated, not reused from its KV cache
            # (llama.cpp's `timings.prompt_n`; absent: not reported)
            "evaluated": (data.get("timings") or {}).get("prompt_n"),
            "text": choice["text"]}


WARM_UP = ("def add(a, b):\n    ", "\n")  # an unrelated first request: step 1 is a cold cursor


def run(base: str, trace: Trace, steps: int, max_tokens: int, label: str,
        extra: dict | None = None) -> list[dict]:
    """One non-streaming /v1/completions FIM request per step (body fields `extra`
    added), after one unrelated warm-up request (so step 1 is a cold cursor position);
    per-step records."""
    import httpx

    out = []
    with httpx.Client(timeout=600) as c:
        c.post(base + "/v1/completions", json=body(*WARM_UP, max_tokens, extra)).raise_for_status()
        for k in range(steps):
            out.append(request(c, base, k, body(*trace.step(k), max_tokens, extra)))
            if k % 10 == 0:
                print(f"  {label} step {k + 1}/{steps}: {out[-1]['ms']:.0f} ms", flush=True)
    return out


def summary(recs: list[dict]) -> dict:
    import statistics

    ms = sorted(r["ms"] for r in recs)

    def q(p: float) -> float:
        k = (len(ms) - 1) * p / 100
        lo = int(k)
        return ms[lo] + (ms[min(lo + 1, len(ms) - 1)] - ms[lo]) * (k - lo)

    return {"n": len(ms), "p50": q(50), "p95": q(95), "mean": statistics.mean(ms),
            "gen": statistics.mean(r["generated"] for r in recs),
            "prompt": statistics.mean(r["prompt"] for r in recs)}
