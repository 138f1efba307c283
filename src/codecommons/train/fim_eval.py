"""Single-line FIM exact match on a repository's own held-out files.

The santacoder-fim procedure (Allal et al. 2023, arXiv:2301.03988, as
eval/tasks/santacoder_fim.py runs it on HumanEval) applied to any files: remove one
non-blank line, give the model the text before it as prefix and the text after it
as suffix, and score the first generated line by exact match after stripping
surrounding blanks. Lines are drawn with a fixed seed; long files are cut to the
token budget at line boundaries, nearest the hole first (tokenizer/fim.py's
`fit_to_budget`, as serving does).

A generator is any `(prefix, suffix) -> text` callable, so the same problems score
a torch model in memory (`torch_generator`) and a served GGUF through the
llama.cpp engine (`engine_generator`).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Callable

from codecommons.metrics import exact_match
from codecommons.tokenizer.fim import FimTemplate, fit_to_budget


@dataclass
class Problem:
    path: str
    line_no: int
    prefix: str
    suffix: str
    reference: str


def problems(files: list[tuple[str, str]], n: int, seed: int) -> list[Problem]:
    """`n` lines drawn (seeded) from (path, text) files; every non-blank line of
    every file is a candidate, as in santacoder-fim."""
    cands = []
    for path, text in files:
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if line.strip():
                cands.append(Problem(path, i, "".join(l + "\n" for l in lines[:i]),
                                     "\n" + "\n".join(lines[i + 1:]), line))
    rng = random.Random(seed)
    return rng.sample(cands, min(n, len(cands)))


def score(problems_: list[Problem], generate: Callable[[str, str], str]) -> dict:
    hits = []
    for p in problems_:
        first_line = generate(p.prefix, p.suffix).split("\n", 1)[0]
        hits.append(exact_match(first_line, p.reference))
    return {"exact_match": sum(hits) / max(len(hits), 1), "n": len(hits), "hits": sum(hits)}


def torch_generator(model, codec, budget: int, max_tokens: int) -> Callable[[str, str], str]:
    """Greedy infill with a transformers (or peft) model in memory; the prompt is
    `codec.template.segments(prefix, suffix)` encoded as serving encodes it."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    template: FimTemplate = codec.template
    stop = [codec.eot] + [i for t in template.stops if (i := codec.special.token_to_id(t)) is not None]

    class FirstLine(StoppingCriteria):  # the first line is all that is scored
        def __init__(self, n_prompt: int) -> None:
            self.n_prompt = n_prompt

        def __call__(self, input_ids, scores, **kw) -> bool:
            return "\n" in codec.hf.decode(input_ids[0, self.n_prompt:])

    def count(text: str) -> int:
        return len(codec.raw.encode(text, add_special_tokens=False).ids)

    def generate(prefix: str, suffix: str) -> str:
        prefix, suffix = fit_to_budget(prefix, suffix, budget, count)
        ids = torch.tensor([codec.encode_segments(template.segments(prefix, suffix))],
                           device=next(model.parameters()).device)
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=max_tokens, eos_token_id=stop, pad_token_id=codec.eot,
                                 stopping_criteria=StoppingCriteriaList([FirstLine(ids.shape[1])]))
        return codec.hf.decode(out[0, ids.shape[1]:], skip_special_tokens=True)

    return generate


def engine_generator(engine, budget: int, max_tokens: int) -> Callable[[str, str], str]:
    """Greedy infill through a serving engine (engines/): the exact prompt path of
    `commons serve`, here on the llama.cpp engine for exported GGUFs."""
    from codecommons.engines.base import SamplingParams

    template = engine.fim_template()
    assert template is not None, f"{engine.spec.id} has no FIM tokens"
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, stop_token_ids=engine.fim_stop_ids())

    def generate(prefix: str, suffix: str) -> str:
        prefix, suffix = fit_to_budget(prefix, suffix, budget, engine.count_tokens)
        text = ""
        for tok in engine.generate(template.segments(prefix, suffix), params, threading.Event()):
            text += tok.text
            if "\n" in text:
                break
        return text

    return generate
