"""`commons <stage>`: an explicit table of stages, each a module with `main(argv)`."""

from __future__ import annotations

import importlib
import sys

# stage -> ("module[:function]", one-line description); the function defaults to
# main(argv). Modules are imported only when run,
# so `commons --help` needs none of the stages' dependencies.
STAGES: dict[str, tuple[str, str]] = {
    "serve": ("codecommons.serve.cli", "serve a code model over OpenAI- and TGI-compatible HTTP APIs"),
    "models": ("codecommons.models.cli", "list the registry's models, assemble or verify them"),
    "curate": ("codecommons.data.pipeline", "build a permissive, PII-redacted code dataset (Parquet)"),
    "optout": ("codecommons.optout.cli", "opt repositories and authors out, answer opt-out requests; is X in a dataset?"),
    "pii": ("codecommons.pii.cli", "find and redact secrets and personal data in text"),
    "index": ("codecommons.attribution.cli:index_main", "build or update an attribution index over a curated dataset"),
    "attribute": ("codecommons.attribution.cli:attribute_main", "which indexed files does this code copy, under which licence?"),
    "train": ("codecommons.train.cli", "train a tokenizer, pretrain with FIM, fine-tune on your own code"),
    "eval": ("codecommons.eval.cli", "pass@k on HumanEval, MBPP, MultiPL-E and infilling, sandboxed"),
    "lsp": ("codecommons.lsp.cli", "language server: inline completion in any editor from `commons serve`"),
    "repo": ("codecommons.repocontext.cli", "index a project for completion context; show what a cursor would get"),
}


def usage() -> str:
    width = max(map(len, STAGES))
    lines = ["usage: commons <stage> [options]   (commons <stage> --help for a stage's options)",
             "", "stages:"]
    lines += [f"  {name:<{width}}  {desc}" for name, (_, desc) in STAGES.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from codecommons import __version__
        print(__version__)
        return 0
    stage, rest = argv[0], argv[1:]
    if stage not in STAGES:
        print(f"commons: unknown stage {stage!r}; choose one of: {', '.join(STAGES)}", file=sys.stderr)
        return 2
    module_name, _, func = STAGES[stage][0].partition(":")
    module = importlib.import_module(module_name)
    return int(getattr(module, func or "main")(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
