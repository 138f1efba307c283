"""`commons train tokenizer|pretrain|finetune`: one entry point per recipe.

    commons train tokenizer runs/stack --vocab-size 49152 --out runs/tok
    commons train pretrain runs/stack --tokenizer runs/tok --config tiny --out runs/tiny
    commons train finetune --model qwen2.5-coder-0.5b --data ./my-repo --method lora --out runs/ft
"""

from __future__ import annotations

import importlib
import sys

# command -> (module, one-line description); each module has main(argv).
COMMANDS: dict[str, tuple[str, str]] = {
    "tokenizer": ("codecommons.train.tokenizer", "train a byte-level BPE on a curated dataset"),
    "pretrain": ("codecommons.train.pretrain", "pretrain a GPTBigCode / Starcoder2 model with FIM"),
    "finetune": ("codecommons.train.finetune", "fine-tune a model on your own code (LoRA or full)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: commons train {" + ",".join(COMMANDS) + "} [options]\n")
        for name, (_, desc) in COMMANDS.items():
            print(f"  {name:<10} {desc}")
        return 0
    if argv[0] not in COMMANDS:
        print(f"commons train: unknown command {argv[0]!r}; choose one of: {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    return int(importlib.import_module(COMMANDS[argv[0]][0]).main(argv[1:]) or 0)
