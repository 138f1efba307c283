"""Model registry: turn what a user names into a `ModelSpec` an engine can load.

A model is named by one of
  * a registry name (`qwen2.5-coder-1.5b`, `qwen2.5-coder-0.5b`): an embedded GGUF;
  * a local `.gguf` file                                   -> the llama.cpp engine;
  * a local transformers folder (config.json + *.safetensors) -> the transformers engine;
  * a hub id such as `bigcode/starcoder2-3b`, downloaded with huggingface_hub where
    a network allows (offline: an error that says how to point at a local copy).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from codecommons.models.embedded import EMBEDDED, assemble


@dataclass
class ModelSpec:
    """What `/v1/models` and `commons models` show, plus where the weights are."""

    id: str
    family: str  # key of tokenizer.fim.TEMPLATES family detection, e.g. "qwen2.5-coder"
    context_length: int
    license: str  # SPDX id where known
    format: str  # "gguf" | "transformers"
    path: str = ""  # local file or folder; empty until resolved

    def to_dict(self) -> dict:
        return asdict(self)


# Facts about the embedded models, from their model cards (Qwen2.5-Coder
# technical report, arXiv:2409.12186): 32,768-token context, Apache-2.0.
KNOWN: dict[str, ModelSpec] = {
    name: ModelSpec(id=name, family="qwen2.5-coder", context_length=32768,
                    license="Apache-2.0", format="gguf")
    for name in EMBEDDED
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelNotFound(ValueError):
    """The name is neither a registry name, a local model, nor a reachable hub id."""


def guess_family(*names: str) -> str:
    """Model family from architecture or model names (lower-cased substrings).

    Order matters: the more specific names come first (starcoder2 before starcoder,
    qwen2.5-coder before qwen2).
    """
    text = " ".join(n.lower() for n in names if n)
    rules = [
        ("qwen2.5-coder", ("qwen2.5-coder", "qwen2.5 coder", "qwen2.5coder")),
        ("starcoder2", ("starcoder2",)),
        ("santacoder", ("santacoder",)),
        ("starcoder", ("starcoder", "gpt_bigcode", "gpt-bigcode", "gptbigcode")),
        ("codellama", ("codellama", "code-llama", "code llama")),
        ("deepseek-coder", ("deepseek-coder", "deepseek coder")),
        ("codegemma", ("codegemma",)),
        ("qwen2", ("qwen2", "qwen")),
        ("llama", ("llama",)),
    ]
    for family, needles in rules:
        if any(n in text for n in needles):
            return family
    return "unknown"


def _gguf_spec(path: Path) -> ModelSpec:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))

    def field(key: str):
        f = reader.fields.get(key)
        if f is None:
            return None
        v = f.contents()
        return v

    arch = field("general.architecture") or ""
    name = field("general.name") or path.stem
    ctx = field(f"{arch}.context_length") or 0
    return ModelSpec(id=path.name, family=guess_family(str(name), path.name, str(arch)),
                     context_length=int(ctx), license=str(field("general.license") or "unknown"),
                     format="gguf", path=str(path))


def _card_license(folder: Path) -> str:
    readme = folder / "README.md"
    if readme.exists():
        m = re.search(r"^license:\s*(\S+)", readme.read_text(errors="replace"), re.M)
        if m:
            return m.group(1)
    return "unknown"


def _folder_spec(folder: Path, model_id: str | None = None) -> ModelSpec:
    cfg = json.loads((folder / "config.json").read_text())
    ctx = cfg.get("max_position_embeddings") or cfg.get("n_positions") or cfg.get("seq_length") or 0
    names = [cfg.get("_name_or_path", ""), cfg.get("model_type", ""), *cfg.get("architectures", []),
             model_id or "", folder.name]
    return ModelSpec(id=model_id or folder.name, family=guess_family(*names),
                     context_length=int(ctx), license=_card_license(folder),
                     format="transformers", path=str(folder))


def _is_model_folder(p: Path) -> bool:
    return p.is_dir() and (p / "config.json").exists() and (
        any(p.glob("*.safetensors")) or any(p.glob("*.bin")))


def _from_hub(repo_id: str) -> ModelSpec:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:
        raise ModelNotFound(f"{repo_id!r} looks like a hub id; install huggingface_hub "
                            "(pip install 'codecommons[serve]') to download it") from e
    try:
        folder = snapshot_download(repo_id, allow_patterns=[
            "*.json", "*.safetensors", "*.model", "*.txt", "README.md"])
    except Exception as e:  # network errors come in many types; all mean the same to a user
        raise ModelNotFound(
            f"could not download {repo_id!r} from the hub ({type(e).__name__}: {e}). Offline? "
            f"Copy the model folder to this machine and pass its path "
            f"(e.g. --model ./starcoder2-3b), or a .gguf file") from e
    return _folder_spec(Path(folder), model_id=repo_id)


def resolve(name: str, assemble_embedded: bool = True) -> ModelSpec:
    """Resolve a user's model name to a loadable spec (assembling an embedded GGUF)."""
    if name in KNOWN:
        spec = ModelSpec(**KNOWN[name].to_dict())
        if assemble_embedded:
            spec.path = str(assemble(EMBEDDED[name]))
        return spec
    p = Path(name).expanduser()
    if p.is_file() and p.suffix == ".gguf":
        return _gguf_spec(p)
    if _is_model_folder(p):
        return _folder_spec(p)
    if p.exists():
        raise ModelNotFound(f"{name}: not a .gguf file nor a folder with config.json and "
                            f"*.safetensors weights")
    if HUB_ID.match(name):
        return _from_hub(name)
    raise ModelNotFound(f"unknown model {name!r}; use one of {', '.join(KNOWN)}, "
                        f"a .gguf file, a transformers model folder, or a hub id (org/name)")


def list_known() -> list[ModelSpec]:
    return [ModelSpec(**s.to_dict()) for s in KNOWN.values()]
