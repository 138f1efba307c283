"""codecommons.pii.detect: every kind found with its exact span, hard negatives
left alone, overlaps resolved; the real detect-secrets plugins throughout.

    python -m pytest tests/pii/test_detect.py -q
"""

from __future__ import annotations

import dataclasses
import sys

import pytest

from codecommons.pii import ALL_KINDS, Finding, find_pii
from codecommons.pii.detect import _resolve_overlaps
from tests.pii.labelled import CASES, _Fake, score

FAKE = _Fake(7)
AWS_ID, GHP, SLACK, STRIPE, JWT = FAKE.aws_id(), FAKE.github(), FAKE.slack(), FAKE.stripe(), FAKE.jwt()
HEX32, B64_40 = FAKE.hex(32), FAKE.alnum(40)
PEM = ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(FAKE.b64(64) for _ in range(4))
       + "\n-----END RSA PRIVATE KEY-----")

# (text, kind, value, detector): value occurs once in text and is the whole span.
POSITIVES = [
    ("# Author: Jane Doe <jane.doe@gmail.com>\n", "email", "jane.doe@gmail.com", "email-regex"),
    ("mailto:w_zhang42@cs.stanford.edu.", "email", "w_zhang42@cs.stanford.edu", "email-regex"),
    ('HOST = "93.184.216.34"\n', "ip_address", "93.184.216.34", "ipv4-regex"),
    ("curl http://151.101.1.69:8080/x", "ip_address", "151.101.1.69", "ipv4-regex"),
    ("listen [2a03:2880:f12f:83:face:b00c::25de]:443;", "ip_address",
     "2a03:2880:f12f:83:face:b00c::25de", "ipv6-regex"),
    (f"aws_access_key_id = {AWS_ID}\n", "key", AWS_ID, "AWSKeyDetector"),
    (f'GITHUB_TOKEN = "{GHP}"\n', "key", GHP, "GitHubTokenDetector"),
    (f'client = WebClient(token="{SLACK}")', "key", SLACK, "SlackDetector"),
    (f"stripe.api_key = '{STRIPE}'", "key", STRIPE, "StripeDetector"),
    (f"Authorization: Bearer {JWT}\n", "key", JWT, "JwtTokenDetector"),
    (f'api_key = "{HEX32}"\n', "key", HEX32, "HexHighEntropyString"),
    (f'SECRET_KEY = "{B64_40}"\n', "key", B64_40, "Base64HighEntropyString"),
    (f"API_KEY={B64_40}\n", "key", B64_40, "Base64HighEntropyString"),
    ('password = "hunter2"\n', "password", "hunter2", "password-assignment"),
    ("PASSWORD: s3cr3t\n", "password", "s3cr3t", "password-assignment"),
    ("export DB_PASSWORD=Tr0ub4dor&3\n", "password", "Tr0ub4dor&3", "password-assignment"),
    ('{"user": "a", "password": "Sunshine42!"}', "password", "Sunshine42!", "password-assignment"),
    ("password: str = \"letmein9\"\n", "password", "letmein9", "password-assignment"),
    ('url = "postgres://user:pa55w0rd@db.internal:5432/app"', "password", "pa55w0rd",
     "connection-string"),
    ("mongodb+srv://u:p4ssW0rd@cluster0.abcd.mongodb.net/test", "password", "p4ssW0rd",
     "connection-string"),
    ("CREATE USER app IDENTIFIED BY 'dragon77';", "password", "dragon77", "sql-identified-by"),
    ('connect(user="app", password="x9y!", db=1)', "password", "x9y!", "password-assignment"),
    ("mysql --password=Blue6# app", "password", "Blue6#", "password-assignment"),
    (f'KEY = """{PEM}\n"""', "private_key", PEM, "pem-block"),
]


@pytest.mark.parametrize("text,kind,value,detector", POSITIVES,
                         ids=[f"{p[1]}-{p[3]}-{i}" for i, p in enumerate(POSITIVES)])
def test_each_kind_is_found_with_its_exact_span(text, kind, value, detector):
    found = find_pii(text)
    start = text.index(value)
    assert found == [Finding(kind, start, start + len(value), value, detector)]


NEGATIVES = [c for c in CASES if c.name.startswith("neg:")]


@pytest.mark.parametrize("case", NEGATIVES, ids=[c.name for c in NEGATIVES])
def test_hard_negatives_are_left_alone(case):
    assert find_pii(case.text) == [], case.text


@pytest.mark.parametrize("text", [
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",  # AWS's documentation key
    '__version__ = "2.10.31.4"', "Released v12.4.33.2", "requires 1.2.3.4 or later",
    "nameserver 8.8.8.8", "127.0.0.1 10.1.2.3 192.168.0.1 172.16.5.4 ::1 fe80::1",
    'password = os.environ["PASSWORD"]', 'password = ""', "password=None",
    'api_key = "<your-api-key>"', 'token = "xxxxxxxxxxxxxxxxxxxxxxxx"',
    'id = "550e8400-e29b-41d4-a716-446655440000"', "jane@example.com",
    "self.user, self.password = user, password", "connect(password=pw)",
    "if hashed_pass == valid_hashed_pass:", 'user, password = "wile", "coyote"',
    "# First pass: determine the width", "icon@2x.png", "git@github.com:org/repo.git",
    "Chrome/114.0.223.99", "1.0.0.127.in-addr.arpa", "12.34.56.78 14.15.16.17 42.42.42.42",
    "alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'", 'SHA256 = "' + "ab12" * 16 + '"',
])
def test_ambiguous_cases_decided_as_documented(text):
    assert find_pii(text) == []


def test_labelled_set_precision_and_recall():
    kinds = ALL_KINDS
    result = score(CASES, lambda t: [(f.kind, f.start, f.end) for f in find_pii(t)])
    assert set(result) == set(kinds)
    for kind, s in result.items():
        assert s.precision >= 0.95 and s.recall >= 0.85, (kind, s)


def test_findings_are_sorted_and_disjoint():
    text = "\n".join(c.text for c in CASES)
    found = find_pii(text)
    assert len(found) > 150
    assert all(a.end <= b.start for a, b in zip(found, found[1:]))
    assert all(text[f.start:f.end] == f.value for f in found)


def test_kinds_restrict_the_search():
    text = f'jane.doe@gmail.com 93.184.216.34 password = "hunter2" {GHP}'
    assert {f.kind for f in find_pii(text, ["email", "password"])} == {"email", "password"}
    assert [f.kind for f in find_pii(text, "ip_address")] == ["ip_address"]


def test_unknown_kind_lists_the_valid_ones():
    with pytest.raises(ValueError) as e:
        find_pii("x", ["email", "phone"])
    assert "'phone'" in str(e.value)
    assert all(k in str(e.value) for k in ALL_KINDS)


def test_finding_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Finding("email", 0, 1, "a", "x").start = 2


def test_token_of_known_format_beats_password_assignment():
    found = find_pii(f'password = "{GHP}"')
    assert [(f.kind, f.value) for f in found] == [("key", GHP)]


def test_password_assignment_beats_bare_entropy():
    found = find_pii(f'db_password = "{B64_40}"')
    assert [(f.kind, f.value) for f in found] == [("password", B64_40)]


def test_private_key_block_swallows_what_is_inside():
    body = FAKE.b64(64)
    text = f'-----BEGIN PRIVATE KEY-----\\n{body}\\n{GHP}\\n{body[::-1]}\\n-----END PRIVATE KEY-----'
    found = find_pii(f'"{text}"')
    assert [(f.kind, f.value) for f in found] == [("private_key", text)]


def test_url_userinfo_is_a_password_not_an_email():
    text = "postgres://admin:Zx9vq42@db.prod.company.com/app"
    assert find_pii(text, ["email"]) == []
    assert [(f.kind, f.value) for f in find_pii(text)] == [("password", "Zx9vq42")]


def test_overlap_resolution_prefers_specific_then_longer():
    key = Finding("key", 5, 25, "k" * 20, "GitHubTokenDetector")
    entropy = Finding("key", 0, 30, "e" * 30, "Base64HighEntropyString")
    email_long = Finding("email", 40, 60, "a" * 20, "email-regex")
    email_short = Finding("email", 45, 50, "b" * 5, "email-regex")
    ip = Finding("ip_address", 58, 70, "1" * 12, "ipv4-regex")
    assert _resolve_overlaps([ip, email_short, entropy, email_long, key]) == [key, email_long]


def test_truncated_private_key_is_found():
    head = PEM[:PEM.index("-----END")].rstrip()
    found = find_pii(f"The key is:\n{head}")
    assert [(f.kind, f.value, f.detector) for f in found] == [("private_key", head, "pem-block-truncated")]


def test_missing_detect_secrets_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "detect_secrets.filters.heuristic", None)
    with pytest.raises(ImportError, match=r"codecommons\[data\]"):
        find_pii("x", ["key"])
    assert find_pii("jane.doe@gmail.com", ["email"])  # other kinds need nothing
