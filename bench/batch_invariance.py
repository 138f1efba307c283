"""Is greedy decoding on the llama.cpp engine the same text from run to run? The same
request (bench/serve.py's decode prompt, 128 greedy tokens, `ignore_eos`) three times
on one engine: the first run evaluates the prompt cold in batches, the later ones reuse
it and evaluate only its last token. llama.cpp's quantised kernels round differently
for different batch shapes, so at a near-tie the argmax can flip: this tells such a
flip (plain decoding disagrees with itself) from a speculative-decoding bug (plain
decoding agrees with itself, speculative decoding does not).

    python bench/batch_invariance.py --model qwen2.5-coder-1.5b    # ~2 min
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import serve as bench_serve  # noqa: E402

from codecommons.engines.base import SamplingParams  # noqa: E402
from codecommons.engines.llamacpp import LlamaCppEngine  # noqa: E402
from codecommons.models.registry import resolve  # noqa: E402
from codecommons.tokenizer.fim import Segment  # noqa: E402


def first_difference(a: list[str], b: list[str]) -> int | None:
    return next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    spec = resolve(a.model)
    prompt = [Segment(bench_serve.decode_prompt())]
    params = SamplingParams(max_tokens=128, temperature=0, ignore_eos=True)
    last = {}
    for mode in ("off", "lookup"):
        engine = LlamaCppEngine(spec, n_ctx=8192, slots=4, speculative=mode)
        try:
            runs = [[t.text for t in engine.generate(prompt, params, threading.Event())] for _ in range(a.runs)]
        finally:
            engine.close()
        diffs = [first_difference(runs[0], r) for r in runs[1:]]
        print(f"--speculative {mode}: run 1 vs later runs, first differing token: {diffs}")
        last[mode] = runs[-1]
    print(f"plain vs lookup, last runs: first differing token {first_difference(last['off'], last['lookup'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
