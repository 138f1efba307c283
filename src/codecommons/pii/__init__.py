"""PII and secrets: one detector and redactor for the curation pipeline (training
data, as BigCode did for The Stack / StarCoder, arXiv:2305.06161 §4) and for the
server (model output, before a response leaves).

    from codecommons.pii import find_pii, redact
    redact('password = "hunter2"').text   # 'password = "<PASSWORD>"'

`detect.py` finds, `redact.py` replaces, `cli.py` is `commons pii`.
"""

from codecommons.pii.detect import ALL_KINDS, Finding, find_pii, is_public_ip
from codecommons.pii.redact import PLACEHOLDERS, Redaction, redact, synthetic_ip

__all__ = ["ALL_KINDS", "PLACEHOLDERS", "Finding", "Redaction", "find_pii", "is_public_ip",
           "redact", "synthetic_ip"]
