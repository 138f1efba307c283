"""What repository context costs in latency: the typing trace of bench/typing_trace.py
(shlex.py, 150 steps, FIM, 24 tokens, greedy) against two `commons serve --repo DIR`
running side by side, one with `--repo-context both` and one with `off`, each step sent
to both in turn (alternating which goes first). Run one after the other, the two
conditions saw different machine states: on this shared 2-core machine, decode speed
drifts ~15% between runs, which moved the p50 difference by 100 ms either way. DIR is
a folder made here:
shlex.py and the standard-library modules beside it that it imports or that share its
names (os, io, re's parser, tokenize, string, textwrap, ...); each request names its
document (`path: shlex.py`), so the server withholds that file's indexed copy.

    python bench/repo_latency.py                      # the 0.5B, ~5 min

The context budget is the server's default (--repo-context-tokens 0: as large as the
file's FIM window, which serve sizes from this machine's prefill speed, at most 1,024;
512 on a 2-core CPU, as in bench/repo_context.py's EM figures); --context-tokens N
sets it.

Target (issue: repository context): p50 with context within 100 ms of without.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import typing_trace as tt  # noqa: E402
from report import machine_info, machine_table, write_section  # noqa: E402
from serve import free_port, model_path, server  # noqa: E402

MODULES = ("shlex.py", "os.py", "io.py", "string.py", "textwrap.py", "tokenize.py", "token.py",
           "keyword.py", "glob.py", "fnmatch.py", "posixpath.py", "genericpath.py", "stat.py")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--context-tokens", type=int, default=0, help="--repo-context-tokens (0: serve's default)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    a = ap.parse_args()
    t0 = time.time()
    model_path(a.model)
    lib = Path(sysconfig.get_paths()["stdlib"])
    trace = tt.build(a.steps)
    rows = {}
    modes = ("off", "both")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        repo = Path(tmp, "stdlib-part")
        repo.mkdir()
        for m in MODULES:
            shutil.copy(lib / m, repo / m)
        bases = {}
        for mode in modes:
            port = free_port()
            cmd = [sys.executable, "-m", "codecommons", "serve", "--model", a.model, "--port", str(port),
                   "--repo", str(repo), "--repo-context", mode, "--repo-context-tokens", str(a.context_tokens)]
            bases[mode], _ = stack.enter_context(server(f"commons serve --repo-context {mode}", cmd,
                                                        "/health", port))
        budget = httpx.get(bases["both"] + "/v1/status").json()["repo_context"]["tokens"]
        recs: dict[str, list[dict]] = {m: [] for m in modes}
        extra = {"path": "shlex.py"}
        with httpx.Client(timeout=600) as c:
            for mode in modes:
                c.post(bases[mode] + "/v1/completions", json=tt.body(*tt.WARM_UP, 24, extra)).raise_for_status()
            for k in range(a.steps):
                req = tt.body(*trace.step(k), 24, extra)
                for mode in (modes if k % 2 == 0 else modes[::-1]):
                    recs[mode].append(tt.request(c, bases[mode], k, req))
                if k % 10 == 0:
                    print(f"  step {k + 1}/{a.steps}: " + ", ".join(
                        f"{m} {recs[m][-1]['ms']:.0f} ms" for m in modes), flush=True)
    for mode in modes:
        rs = recs[mode]
        prompt = tt.summary([{**r, "ms": r["evaluated"]} for r in rs])
        renewed = sum(1 for x, y in zip(rs, rs[1:]) if set(y["chunks"]) - set(x["chunks"]))
        rows[mode] = (tt.summary(rs), prompt, sum(len(r["chunks"]) for r in rs) / len(rs), renewed)
    paired = statistics.median(b["ms"] - o["ms"] for o, b in zip(recs["off"], recs["both"]))
    d50 = rows["both"][0]["p50"] - rows["off"][0]["p50"]
    lines = [f"## Repository context: latency on the typing trace — {a.model}", "",
             f"Command: `python bench/repo_latency.py --model {a.model}` (took {(time.time() - t0) / 60:.1f} min). "
             f"Two `commons serve --repo DIR`, `--repo-context off` and `both`, side by side, each step "
             f"sent to both in turn (alternating which first); DIR = {len(MODULES)} standard-library "
             f"modules ({', '.join(MODULES)}); {a.steps} steps of the typing trace in shlex.py, each a "
             "non-streaming FIM /v1/completions with `path: shlex.py`, 24 tokens, greedy. Context budget "
             f"(`--repo-context-tokens`, from /v1/status): {budget} tokens"
             f"{' (the default: the FIM window)' if not a.context_tokens else ''}.", "",
             "| --repo-context | p50 ms | p95 ms | prompt tokens evaluated p50 / p95 | mean prompt tokens "
             "| mean tokens generated | mean context chunks used | requests whose context changed "
             "(new chunks) |",
             "|---|---|---|---|---|---|---|---|",
             *[f"| {m} | {s['p50']:.0f} | {s['p95']:.0f} | {p['p50']:.0f} / {p['p95']:.0f} "
               f"| {s['prompt']:.0f} | {s['gen']:.1f} | {c:.1f} | {n} |" for m, (s, p, c, n) in rows.items()], "",
             f"- p50 with context - without: **{d50:+.0f} ms** (target within 100 ms: "
             f"{'yes' if d50 <= 100 else 'NO'}); median of the per-step differences: {paired:+.0f} ms",
             "- prompt tokens evaluated: what the server could not reuse from its KV cache "
             "(llama.cpp's `timings.prompt_n` in the response); a context change makes the whole "
             "FIM prompt after it new. The rest of a request is decoding, over the longer prompt "
             "when context is on.", "",
             *machine_table(machine_info()), ""]
    text = "\n".join(lines) + "\n"
    write_section(a.out, f"<!-- bench/repo_latency.py {a.model} -->",
                  f"<!-- end bench/repo_latency.py {a.model} -->", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
