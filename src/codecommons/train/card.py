"""The model card (README.md) written beside every model this stage produces.

Model Cards for Model Reporting (Mitchell et al. 2019, arXiv:1810.03993), in the
Hugging Face layout: YAML front matter (licence, library, tags, base model) that
`commons serve` and the hub read, then data (the dataset card it came from,
licences, tokens), tokenizer, configuration, tokens seen, hardware and time,
evaluation figures, licence and use restrictions.
"""

from __future__ import annotations

import json
import platform
from collections import Counter
from pathlib import Path

USE = """This model was trained only on code under permissive licences (as curated by
`commons curate`), most of which still require attribution when substantial parts
are reproduced. Generated code can copy training code: serve it with
`commons serve --index` (attribution of suggestions to their sources, with their
licences) where that matters. Emails, keys and passwords in the training data were
replaced by placeholders (<EMAIL>, <KEY>, <PASSWORD>); the model may still produce
personal data or insecure code. Not for use in safety-critical systems without review."""


def dataset_summary(dataset: str | Path) -> dict:
    """Files, bytes and licences of a curated dataset (two columns read), and its card."""
    import pyarrow.parquet as pq

    root = Path(dataset)
    licences: Counter = Counter()
    files = n_bytes = 0
    for f in sorted((root / "data").glob("*.parquet")):
        t = pq.read_table(f, columns=["license", "size"]).to_pydict()
        licences.update(t["license"])
        files += len(t["size"])
        n_bytes += sum(t["size"])
    card = root / "README.md"
    return {"path": str(root), "files": files, "bytes": n_bytes,
            "licenses": dict(licences.most_common()),
            "card": card.read_text() if card.exists() else ""}


def hardware(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(device)}"
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _table(d: dict) -> str:
    return "\n".join(f"| {k} | {v} |" for k, v in d.items())


def _strip_front_matter(card: str) -> str:
    if card.startswith("---\n"):
        end = card.find("\n---", 4)
        if end > 0:
            return card[end + 4:].lstrip()
    return card


def write(folder: str | Path, *, title: str, summary: str, license: str, data: dict,
          tokenizer: str, config: dict, training: dict, evaluation: dict | None = None,
          base_model: str = "") -> Path:
    """README.md in `folder`. `data` is dataset_summary()'s; `training` holds tokens
    seen, steps, hardware and time; `evaluation` maps a figure's name to its value."""
    front = ["---", f"license: {license}", "library_name: transformers",
             "pipeline_tag: text-generation", "tags:", "  - code", "  - codecommons"]
    if base_model:
        front.append(f"base_model: {base_model}")
    front.append("---")
    lic = ", ".join(f"{k or 'none'} ({v})" for k, v in list(data.get("licenses", {}).items())[:15])
    ev = _table(evaluation) if evaluation else "(none yet)"
    dataset_card = _strip_front_matter(data.get("card", "")).replace("\n#", "\n###")
    text = "\n".join(front) + f"""

# {title}

{summary}

## Data

Dataset: `{data.get("path", "")}`: {data.get("files", 0):,} files, {data.get("bytes", 0):,} bytes.
Licences (files): {lic or "unknown"}.

<details><summary>The dataset's own card</summary>

{dataset_card or "(no dataset card)"}

</details>

## Tokenizer

{tokenizer}

## Training

| | |
|---|---|
{_table(training)}

Configuration:

```json
{json.dumps(config, indent=2, default=str)}
```

## Evaluation

| figure | value |
|---|---|
{ev}

## Licence and use

Licence: {license}. {USE}
"""
    path = Path(folder) / "README.md"
    path.write_text(text)
    return path
