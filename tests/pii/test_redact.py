"""codecommons.pii.redact: StarCoder's replacements, private synthetic IPs, and
nothing changed outside the findings.

    python -m pytest tests/pii/test_redact.py -q
"""

from __future__ import annotations

import importlib
import ipaddress
import re

import pytest

from codecommons.pii import ALL_KINDS, PLACEHOLDERS, find_pii, redact, synthetic_ip
from tests.pii.labelled import CASES, _Fake

# The package re-exports the function `redact`, which shadows the module's name.
redact_module = importlib.import_module("codecommons.pii.redact")

FAKE = _Fake(11)
GHP = FAKE.github()
PEM = ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(FAKE.b64(70) for _ in range(5))
       + "\n-----END OPENSSH PRIVATE KEY-----")


@pytest.mark.parametrize("text,expected", [
    ("mail jane.doe@gmail.com now", "mail <EMAIL> now"),
    (f'TOKEN = "{GHP}"', 'TOKEN = "<KEY>"'),
    ('password = "hunter2"', 'password = "<PASSWORD>"'),
    ("postgres://app:pa55w0rd@db/app", "postgres://app:<PASSWORD>@db/app"),
    (f"key:\n{PEM}\nend", "key:\n<KEY>\nend"),
])
def test_replacements_are_starcoders(text, expected):
    assert redact(text).text == expected


def test_ip_replacement_is_private_deterministic_and_one_to_one():
    a, b, c = "93.184.216.34", "151.101.1.69", "2a03:2880:f12f:83:face:b00c::25de"
    text = f"{a} {b} {a} {c} {c.upper()}"
    out = redact(text).text.split()
    assert out[0] == out[2] != out[1]
    assert out[3] == out[4]  # one address however it is spelled
    assert redact(text).text == redact(text).text  # pure: same input, same output
    v4 = [ipaddress.ip_address(x) for x in out[:3]]
    assert all(ip.version == 4 and ip.is_private for ip in v4)
    assert any(ip in ipaddress.ip_network(n) for ip in v4
               for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
    assert ipaddress.ip_address(out[3]) in ipaddress.ip_network("fd00::/8")


def test_synthetic_ip_ranges_and_salt():
    for i in range(200):
        addr = FAKE.ipv4()
        ip = ipaddress.ip_address(synthetic_ip(addr))
        net = next(n for n in map(ipaddress.ip_network, ("10.0.0.0/8", "172.16.0.0/12",
                                                          "192.168.0.0/16")) if ip in n)
        assert ip not in (net.network_address, net.broadcast_address)
    assert synthetic_ip("93.184.216.34") == synthetic_ip("93.184.216.34")
    assert synthetic_ip("93.184.216.34", salt=b"s3cret") != synthetic_ip("93.184.216.34")


def test_two_addresses_never_share_a_replacement(monkeypatch):
    real = redact_module.synthetic_ip
    # Force a collision on the first draw: the second address must draw again.
    monkeypatch.setattr(redact_module, "synthetic_ip",
                        lambda a, salt=b"", attempt=0: "10.0.0.1" if attempt == 0 else real(a, salt, attempt))
    out = redact("93.184.216.34 151.101.1.69").text.split()
    assert out[0] == "10.0.0.1" and out[1] != "10.0.0.1"


def test_resolvers_loopback_and_private_addresses_are_kept():
    text = "8.8.8.8 1.1.1.1 9.9.9.9 208.67.222.222 127.0.0.1 10.0.0.7 192.168.1.1 ::1 2606:4700:4700::1111"
    assert redact(text).text == text


def test_counts_cover_requested_kinds():
    r = redact(f'a@gmail.com b@gmail.com {GHP} password = "hunter2"', ["email", "key", "ip_address"])
    assert r.counts == {"email": 2, "ip_address": 0, "key": 1}
    assert "hunter2" in r.text
    assert [f.kind for f in r.findings] == ["email", "email", "key"]


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="valid kinds: " + ", ".join(ALL_KINDS)):
        redact("x", ["emails"])


def _replacements(original: str, redacted: str, findings) -> list[str]:
    """Check every character outside the findings survives in order; return what
    replaced each finding."""
    segments, pos = [], 0
    for f in findings:
        segments.append(original[pos:f.start])
        pos = f.end
    segments.append(original[pos:])
    pattern = "(.*?)".join(map(re.escape, segments))
    m = re.fullmatch(pattern, redacted, re.DOTALL)
    assert m, "text outside the findings changed"
    return list(m.groups())


def test_redact_changes_nothing_outside_findings():
    text = "\n".join(c.text for c in CASES)
    r = redact(text)
    assert r.findings == find_pii(text)
    replaced = _replacements(text, r.text, r.findings)
    assert len(replaced) == len(r.findings) > 150
    for f, new in zip(r.findings, replaced):
        if f.kind == "ip_address":
            assert ipaddress.ip_address(new).is_private
        else:
            assert new == PLACEHOLDERS[f.kind]
    assert sum(r.counts.values()) == len(r.findings)


def test_text_without_pii_is_returned_unchanged():
    text = "def add(a, b):\n    return a + b  # sha256 = 'x'\n"
    r = redact(text)
    assert r.text == text and r.findings == [] and set(r.counts.values()) == {0}
