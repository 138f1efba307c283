"""Replace PII with the placeholders StarCoder's training data uses.

StarCoder paper (arXiv:2305.06161) §4 "PII redaction": emails, keys and passwords
become `<EMAIL>`, `<KEY>`, `<PASSWORD>`; IP addresses become synthetic private
addresses of the same version, as BigCode's `pii/pii_redaction.py`
(bigcode-project/bigcode-dataset) did, so that code stays well-formed
(`socket.connect(("<IP>", 80))` would not parse as an address). Private-key
blocks become `<KEY>` as a whole.

BigCode drew replacement IPs at random from five fixed addresses, remembering the
choice per value within a file. Here the choice is a hash of the address, so it is
deterministic (same input, same output: a pure function) and keeps distinct
addresses distinct within one text. An unkeyed hash of a 32-bit address can be
inverted by enumerating every address, so the replacement narrows the original
down to a few hundred candidates; pass a secret `salt` where that matters.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from codecommons.pii.detect import ALL_KINDS, Finding, check_kinds, find_pii

PLACEHOLDERS = {"email": "<EMAIL>", "key": "<KEY>", "password": "<PASSWORD>",
                "private_key": "<KEY>"}

# The private ranges replacements come from, and how many host bits each offers.
_V4_RANGES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("172.16.0.0/12"),
              ipaddress.ip_network("192.168.0.0/16"))
_V6_RANGE = ipaddress.ip_network("fd00::/8")  # unique local addresses, RFC 4193


@dataclass(frozen=True)
class Redaction:
    text: str  # the redacted text
    counts: dict[str, int]  # replacements per requested kind (0 included)
    findings: list[Finding]  # what was replaced, spans in the original text


def synthetic_ip(address: str, salt: bytes = b"", attempt: int = 0) -> str:
    """A private address standing for `address`: IPv4 -> 10/8, 172.16/12 or
    192.168/16; IPv6 -> fd00::/8. Stable for a given (address, salt, attempt);
    the host part is never all-zeros or all-ones."""
    ip = ipaddress.ip_address(address)
    digest = hashlib.blake2b(f"{ip.compressed}#{attempt}".encode(), key=salt[:64],
                             digest_size=16).digest()
    n = int.from_bytes(digest, "big")
    net = _V6_RANGE if ip.version == 6 else _V4_RANGES[digest[0] % len(_V4_RANGES)]
    hosts = net.num_addresses - 2
    return str(net.network_address + 1 + n % hosts)


def redact(text: str, kinds: Iterable[str] = ALL_KINDS, *, salt: bytes = b"") -> Redaction:
    """`text` with every finding of `kinds` replaced; text outside findings unchanged."""
    wanted = check_kinds(kinds)
    findings = find_pii(text, wanted)
    ips: dict[str, str] = {}  # original -> replacement, one-to-one within this text
    parts, pos = [], 0
    counts = dict.fromkeys(wanted, 0)
    for f in findings:
        parts += [text[pos:f.start], _replacement(f, ips, salt)]
        pos = f.end
        counts[f.kind] += 1
    parts.append(text[pos:])
    return Redaction("".join(parts), counts, findings)


def _replacement(f: Finding, ips: dict[str, str], salt: bytes) -> str:
    if f.kind != "ip_address":
        return PLACEHOLDERS[f.kind]
    key = ipaddress.ip_address(f.value).compressed  # 2001:DB8::1 and 2001:db8::1 alike
    if key not in ips:
        taken = set(ips.values())
        attempt = 0
        while (candidate := synthetic_ip(key, salt, attempt)) in taken:
            attempt += 1  # two addresses hashed to one replacement: draw again
        ips[key] = candidate
    return ips[key]
