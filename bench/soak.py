"""Soak test of `commons serve`: 2,000 requests of random valid and invalid shapes from 8
concurrent clients, bounded in time; no 5xx, no hang, resident memory flat after
warm-up.

    python bench/soak.py                                   # the 0.5B, ~10 min
    python bench/soak.py --requests 400 --clients 4        # shorter

Every request goes to 127.0.0.1 only. Shapes (chosen at random with a fixed seed): the
OpenAI, TGI, llama.cpp and Ollama routes with small valid bodies (streamed or not,
FIM, chat, n > 1, logprobs, token ids), and invalid ones: wrong types, lone surrogates,
Infinity, empty prompts, too many or too long stop strings, broken JSON, a body over
the size limit, a wrong Host, duplicate Authorization headers, unknown routes, and
streams the client closes half-way. A request that takes longer than 120 s counts as
a hang. The server's RSS is sampled every second; "flat" compares the last quarter of
the run with the second quarter (after warm-up).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from report import machine_info, machine_table, write_section  # noqa: E402
from serve import free_port, log, model_path, server  # noqa: E402

TIMEOUT_S = 120.0
SNIPPET = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    "


def shapes(rng: random.Random) -> tuple[str, str, object, dict]:
    """(method, path, body or raw bytes, headers) of one random request."""
    k = rng.randrange(22)
    n = rng.randint(1, 6)
    valid = {
        0: ("POST", "/v1/completions", {"prompt": SNIPPET, "max_tokens": n}),
        1: ("POST", "/v1/completions", {"prompt": SNIPPET, "suffix": "\n", "max_tokens": n, "temperature": 0}),
        2: ("POST", "/v1/completions", {"prompt": SNIPPET, "max_tokens": n, "stream": True,
                                        "stream_options": {"include_usage": True}}),
        3: ("POST", "/v1/completions", {"prompt": [SNIPPET, "x = "], "n": 2, "max_tokens": n, "logprobs": 2}),
        4: ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": n}),
        5: ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "a<|im_end|>b"}],
                                             "max_tokens": n, "stream": True}),
        6: ("POST", "/generate", {"inputs": SNIPPET, "parameters": {"max_new_tokens": n, "details": True}}),
        7: ("POST", "/generate_stream", {"inputs": SNIPPET, "parameters": {"max_new_tokens": n}}),
        8: ("POST", "/infill", {"input_prefix": SNIPPET, "input_suffix": "\n", "n_predict": n}),
        9: ("POST", "/api/generate", {"prompt": SNIPPET, "suffix": "\n", "options": {"num_predict": n}}),
        10: ("POST", "/api/chat", {"messages": [{"role": "user", "content": "hi"}], "stream": False,
                                   "options": {"num_predict": n}}),
        11: ("POST", "/tokenize", {"content": SNIPPET}),
    }
    if k in valid:
        m, p, b = valid[k]
        return m, p, b, {}
    invalid = {
        12: ("POST", "/v1/completions", {"prompt": "x", "max_tokens": "4"}, {}),
        13: ("POST", "/v1/completions", b'{"prompt": "\\ud800", "max_tokens": 2}', {}),
        14: ("POST", "/generate", b'{"inputs": "x", "parameters": {"temperature": Infinity}}', {}),
        15: ("POST", "/v1/completions", {"prompt": "", "max_tokens": 2, "stream": True}, {}),
        16: ("POST", "/v1/completions", {"prompt": "x", "stop": ["y" * 300] * 20}, {}),
        17: ("POST", "/v1/completions", b'{"prompt": "x", "max_tok', {}),
        18: ("POST", "/v1/completions", {"prompt": "x" * (5 << 20)}, {}),
        19: ("GET", "/v1/models", None, {"Host": "evil.example"}),
        20: ("POST", "/v1/completions", {"prompt": "x", "max_tokens": 1},
             [("Authorization", "Bearer a"), ("Authorization", "Bearer b")]),
        21: ("GET", "/no/such/route", None, {}),
    }
    return invalid[k]


def one(client: httpx.Client, base: str, rng: random.Random) -> tuple[int, float, str]:
    method, path, body, headers = shapes(rng)
    kw: dict = {"headers": headers, "timeout": TIMEOUT_S}
    if isinstance(body, bytes):
        kw["content"] = body
        kw["headers"] = [*(headers.items() if isinstance(headers, dict) else headers),
                         ("content-type", "application/json")]
    elif body is not None:
        kw["json"] = body
    t0 = time.perf_counter()
    streaming = isinstance(body, dict) and (body.get("stream") or path in ("/generate_stream", "/api/generate"))
    try:
        if streaming:
            with client.stream(method, base + path, **kw) as r:
                for i, _ in enumerate(r.iter_lines()):
                    if rng.random() < 0.2 and i >= 1:
                        break  # the client goes away half-way
                status = r.status_code
        else:
            status = client.request(method, base + path, **kw).status_code
    except httpx.TimeoutException:
        return -1, time.perf_counter() - t0, path
    except httpx.HTTPError:
        return -2, time.perf_counter() - t0, path  # connection closed by the server
    return status, time.perf_counter() - t0, path


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--max-minutes", type=float, default=30)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    a = ap.parse_args()
    t_start = time.time()
    model_path(a.model)  # assembled before the clock starts
    port = free_port()
    cmd = [sys.executable, "-m", "codecommons", "serve", "--model", a.model, "--port", str(port),
           "--max-queue", str(4 * a.clients), "--fim-context-tokens", "512"]
    results: list[tuple[int, float, str]] = []
    rss: list[tuple[float, float]] = []
    lock, done = threading.Lock(), threading.Event()
    with server("commons serve", cmd, "/health", port) as (base, proc):
        deadline = time.time() + 60 * a.max_minutes
        counter = iter(range(a.requests))

        def client_loop(i: int) -> None:
            rng = random.Random(a.seed + i)
            with httpx.Client() as c:
                for _ in counter:
                    if time.time() > deadline:
                        return
                    res = one(c, base, rng)
                    with lock:
                        results.append(res)

        def sample_rss() -> None:
            t0 = time.time()
            while not done.is_set():
                rss.append((time.time() - t0, rss_mib(proc.pid)))
                time.sleep(1.0)

        sampler = threading.Thread(target=sample_rss)
        sampler.start()
        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(a.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        alive = httpx.get(base + "/health", timeout=10).status_code == 200
        done.set()
        sampler.join()
    statuses = Counter(s for s, _, _ in results)
    server_errors = sum(n for s, n in statuses.items() if s >= 500 and s != 503)
    hangs = statuses.get(-1, 0)
    q = len(rss) // 4
    warm = [m for _, m in rss[q:2 * q]] or [m for _, m in rss]
    last = [m for _, m in rss[3 * q:]] or [m for _, m in rss]
    growth = statistics.median(last) - statistics.median(warm)
    lat = sorted(t for _, t, _ in results)
    info = machine_info()
    lines = [f"## Soak: `commons serve` ({a.model}) under random valid and invalid requests", "",
             f"Command: `python bench/soak.py --model {a.model} --requests {a.requests} --clients {a.clients}` "
             f"(took {(time.time() - t_start) / 60:.1f} min; server `{' '.join(cmd[3:]).replace(str(port), 'PORT')}`).",
             "", *machine_table(info), "",
             f"- requests: {len(results)} from {a.clients} concurrent clients (seed {a.seed}); "
             f"server alive and answering /health at the end: {'yes' if alive else 'NO'}",
             f"- 5xx other than 503 (queue full): **{server_errors}**; 503: {statuses.get(503, 0)}; "
             f"hangs (no answer in {TIMEOUT_S:.0f} s): **{hangs}**; connections the server closed: "
             f"{statuses.get(-2, 0)}",
             f"- latency p50 {lat[len(lat) // 2]:.2f} s, p99 {lat[int(len(lat) * .99)]:.2f} s, max {lat[-1]:.2f} s",
             f"- resident memory: median {statistics.median(warm):.0f} MiB in the second quarter of the run, "
             f"{statistics.median(last):.0f} MiB in the last (growth {growth:+.0f} MiB); peak "
             f"{max(m for _, m in rss):.0f} MiB", "",
             "| status | requests |", "|---|---|",
             *[f"| {s if s >= 0 else {-1: 'timeout', -2: 'closed by server'}[s]} | {n} |"
               for s, n in sorted(statuses.items())], ""]
    text = "\n".join(lines) + "\n"
    write_section(a.out, "<!-- bench/soak.py -->", "<!-- end bench/soak.py -->", text)
    print(text)
    return 0 if server_errors == 0 and hangs == 0 and alive else 1


if __name__ == "__main__":
    sys.exit(main())
