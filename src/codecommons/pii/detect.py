"""Find PII and secrets in source code: emails, public IP addresses, API keys and
tokens, passwords and private keys.

One module for both users: the curation pipeline redacts training data with it (as
BigCode did for The Stack / StarCoder), and the server scrubs model output with it
before a response leaves. Every function here is pure: text in, findings out.

Sources, and where this differs from them:

- StarCoder paper (Li et al. 2023, arXiv:2305.06161), §4 "PII redaction": the
  kinds (email, IP address, key), the replacements, and the published precision
  and recall of BigCode's regex pipeline that `bench/pii.py` compares against.
- BigCode's code, github.com/bigcode-project/bigcode-dataset, folder `pii/`:
  `utils/emails_ip_addresses_detection.py` (email/IP regexes; the IP filters: a
  digit is required, the address must parse, dotted quads of single digits are
  versions unless "dns"/"server" is near), `utils/keys_detection.py` (which
  detect-secrets plugins and filters, the gibberish check, the hash check) and
  `pii_redaction.py` (private IPs and popular DNS resolvers are left alone).
- detect-secrets (Yelp), whose plugins find the keys and tokens and whose
  heuristic filters (UUIDs, id strings, templates, sequences) and gibberish model
  keep word-like strings out. Its keyword, basic-auth, private-key and public-IP
  plugins are not used: the `password`, `private_key` and `ip_address` detectors
  below give exact spans and the placeholder rules those plugins lack.

Findings are non-overlapping and sorted; where candidates overlap the more
specific detector wins (a private-key block over anything inside it, a token of
known format over a password assignment, a password assignment over a bare
high-entropy string, a key over an email or IP), then the longer span.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import ipaddress
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from codecommons.pii.emails import EMAIL

ALL_KINDS: tuple[str, ...] = ("email", "ip_address", "key", "password", "private_key")

INSTALL_HINT = "pip install 'codecommons[data]'"


@dataclass(frozen=True)
class Finding:
    kind: str  # one of ALL_KINDS
    start: int  # text[start:end] == value
    end: int
    value: str
    detector: str  # which rule or detect-secrets plugin found it


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """The requested kinds, in ALL_KINDS order; ValueError naming the valid ones."""
    if isinstance(kinds, str):  # "email" would otherwise iterate as letters
        kinds = [kinds]
    wanted = set(kinds)
    unknown = sorted(wanted - set(ALL_KINDS))
    if unknown:
        raise ValueError(f"unknown PII kind(s) {', '.join(map(repr, unknown))}; "
                         f"valid kinds: {', '.join(ALL_KINDS)}")
    return tuple(k for k in ALL_KINDS if k in wanted)


def find_pii(text: str, kinds: Iterable[str] = ALL_KINDS) -> list[Finding]:
    """Every PII finding of the given kinds in `text`: non-overlapping, by start."""
    candidates: list[Finding] = []
    for kind in check_kinds(kinds):
        candidates.extend(_DETECTORS[kind](text))
    return _resolve_overlaps(candidates)


# --- overlaps -----------------------------------------------------------------

# Specificity of a detector, highest first. A whole private-key block beats the
# base64 lines inside it; a token of known format (ghp_..., AKIA...) is a key even
# when assigned to `password`; a password assignment names what a high-entropy
# string is; emails and IPs are least specific (a URL's `user:pw@host` is a
# password, not an email).
_RANK = {"private_key": 5, "key/format": 4, "password": 3, "key/entropy": 2, "email": 1,
         "ip_address": 0}


def _rank(f: Finding) -> int:
    if f.kind == "key":
        return _RANK["key/entropy" if "Entropy" in f.detector else "key/format"]
    return _RANK[f.kind]


def _resolve_overlaps(candidates: list[Finding]) -> list[Finding]:
    """Keep the most specific, then longest, of overlapping candidates."""
    starts: list[int] = []  # kept spans, disjoint, sorted by start
    ends: list[int] = []
    kept: list[Finding] = []
    for f in sorted(set(candidates), key=lambda f: (-_rank(f), f.start - f.end, f.start)):
        i = bisect.bisect_right(starts, f.start)
        if (i and ends[i - 1] > f.start) or (i < len(starts) and starts[i] < f.end):
            continue
        starts.insert(i, f.start)
        ends.insert(i, f.end)
        kept.insert(i, f)
    return kept


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    return text.rfind("\n", 0, start) + 1, (text.find("\n", end) + 1 or len(text) + 1) - 1


# --- email --------------------------------------------------------------------

# The grammar is pii/emails.py's (one for every module); what follows is what
# makes an address personal data.

# RFC 2606 / RFC 6761 reserved names can never be anyone's address: not PII.
# (BigCode's annotators counted them as emails; redacting them would only erase
# documentation and test fixtures.)
_RESERVED_DOMAIN = re.compile(
    r"(?i)(?:^|\.)(?:example\.(?:com|net|org)|example|test|invalid|localhost)$")

# `icon@2x.png` (retina image names) and friends: a file extension is not a TLD
# in practice, even where it is one on paper (.py, .sh, .rs, .md).
_FILE_EXTENSIONS = frozenset(
    "png jpg jpeg gif svg webp ico bmp tif tiff js mjs ts jsx tsx css scss less html htm "
    "json yaml yml xml txt md rst py rb rs go java kt sh lock toml ini cfg log csv pdf zip "
    "gz tar map vue php".split())

# `scheme://user@host` and `scheme://user:pw@host`: URL userinfo, not an email
# (the password, if any, is the `password` kind's).
_URL_USERINFO_BEFORE = re.compile(r"://(?:[^\s/@:]*:)?$")


def _find_emails(text: str) -> list[Finding]:
    if "@" not in text:
        return []
    found = []
    for m in EMAIL.finditer(text):
        value = m.group()
        domain = value.rsplit("@", 1)[1]
        if _RESERVED_DOMAIN.search(domain) or m.group(1).lower() in _FILE_EXTENSIONS:
            continue
        if _URL_USERINFO_BEFORE.search(text, max(0, m.start() - 200), m.start()):
            continue
        # `git@github.com:org/repo.git`: an SSH remote, the same for everyone.
        if value.startswith("git@") and text.startswith(":", m.end()):
            continue
        found.append(Finding("email", m.start(), m.end(), value, "email-regex"))
    return found


# --- IP addresses -----------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Not inside a longer dotted number or word: `1.3.6.1.4.1` (an OID), `x1.2.3.4`,
# `v1.2.3.4` (a version: BigCode ignored IPs preceded by "v"),
# `4.3.2.1.in-addr.arpa` (reverse DNS names).
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\w)")
# Candidates only; ipaddress decides what is an address.
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
                   r"(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\w)")

# Well-known public resolvers: infrastructure everyone types, not anyone's
# address (BigCode's POPULAR_DNS_SERVERS, plus their IPv6 twins).
PUBLIC_RESOLVERS = frozenset({
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112",
    "208.67.222.222", "208.67.220.220", "76.76.19.19", "76.223.122.150", "8.26.56.26",
    "8.20.247.20", "94.140.14.14", "94.140.15.15", "64.6.64.6", "64.6.65.6",
    "2001:4860:4860::8888", "2001:4860:4860::8844", "2606:4700:4700::1111",
    "2606:4700:4700::1001", "2620:fe::fe", "2620:fe::9", "2620:119:35::35",
    "2620:119:53::53",
})

# A dotted quad right after "version", "release", "build", "section"... is a
# version or a section number: `__version__ = "2.10.3.1"`, `"version": "4.17.2.1"`,
# `AssemblyVersion("3.0.1.22")`, `Release 12.4.3.2`; and after a pip specifier
# (`pkg==3.141.59.2`) or a product name and slash (`Chrome/114.0.223.99` in a
# User-Agent; `http://` is two slashes).
_VERSION_BEFORE = re.compile(
    r"(?i)(?:(?:version|\bver|\brelease|\brev(?:ision)?|\bbuild|\bsection|§|\bchapter)\w*\W{0,4}"
    r"|[=<>~!]=\s*|[A-Za-z]/)$")
# BigCode's filter_versions: a quad of single digits (`1.2.3.4`) is nearly always a
# version, unless "dns" or "server" (we add "ip" and "host") is within 100 chars.
_SINGLE_DIGITS = re.compile(r"^\d\.\d\.\d\.\d$")
_NETWORK_WORDS = re.compile(r"(?i)dns|server|\bip\b|\bhost")
# 2000::/3 is the only global unicast block in use; C++ `a::b` and slices
# `x[1::2]` parse as IPv6 but fall outside it.
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
# `x[2048::2]`: decimal numbers around `::` are a slice, not an address.
_SLICE = re.compile(r"^\d+::\d*$")


def is_public_ip(value: str) -> bool:
    """Routable, unicast, not a well-known resolver: the addresses redaction replaces.

    `is_global` already excludes loopback, private, link-local, shared (100.64/10)
    and the documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24,
    2001:db8::/32)."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    if not ip.is_global or ip.is_multicast or value in PUBLIC_RESOLVERS:
        return False
    return ip.version == 4 or ip in _GLOBAL_UNICAST_V6


def _made_up_ipv4(value: str) -> bool:
    """Addresses people type as examples: equal octets (`42.42.42.42`), counting
    octets (`14.15.16.17`), counting digits (`12.34.56.78`, `123.45.67.89`)."""
    octets = [int(o) for o in value.split(".")]
    digits = value.replace(".", "")
    return (len(set(octets)) == 1 or all(b - a == 1 for a, b in zip(octets, octets[1:]))
            or digits in "0123456789")


def _looks_like_version(text: str, start: int, end: int, value: str) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    if _VERSION_BEFORE.search(text, max(line_start, start - 40), start):
        return True
    if _SINGLE_DIGITS.match(value):
        return not _NETWORK_WORDS.search(text, max(0, start - 100), end + 100)
    return False


def _find_ips(text: str) -> list[Finding]:
    found = []
    for m in _IPV4.finditer(text):
        value = m.group()
        if (is_public_ip(value) and not _made_up_ipv4(value)
                and not _looks_like_version(text, m.start(), m.end(), value)):
            found.append(Finding("ip_address", m.start(), m.end(), value, "ipv4-regex"))
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6.finditer(text):
            value = m.group()
            # BigCode's ip_has_digit: `::`, `dead:beef:` and the like are not addresses.
            if any(c.isdigit() for c in value) and not _SLICE.match(value) and is_public_ip(value):
                found.append(Finding("ip_address", m.start(), m.end(), value, "ipv6-regex"))
    return found


# --- private keys -----------------------------------------------------------------

# A whole PEM / OpenSSH / PGP block, so the replacement removes all of it (the
# detect-secrets plugin flags only the BEGIN line). Escaped newlines (`\n` inside
# a JSON string) are covered: the body is matched lazily up to the END line.
_PEM = re.compile(
    r"-----BEGIN (?P<type>(?:[A-Z0-9]+ )*)PRIVATE KEY(?P<block> BLOCK|)-----"
    r"(?P<body>.*?)-----END (?P=type)PRIVATE KEY(?P=block)-----", re.DOTALL)
# A truncated block (a model's output can stop mid-key): BEGIN and the base64
# lines that follow it.
_PEM_UNTERMINATED = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?P<body>(?:[ \t]*\r?\n[ \t]*(?:[A-Za-z0-9+/=]{16,}|[\w-]+: [^\n]*))+)")
_PUTTY = re.compile(r"PuTTY-User-Key-File-\d: .*?Private-MAC: [0-9a-fA-F]+", re.DOTALL)
# A real key body has hundreds of base64 characters; fewer is a placeholder
# (`...`, `<your key here>`, `MIIE...`).
_MIN_KEY_BODY = 64


def _real_key_body(body: str) -> bool:
    chars = re.sub(r"[^A-Za-z0-9+/]", "", body.replace("\\n", ""))
    return len(chars) >= _MIN_KEY_BODY and len(set(chars)) > 8


def _find_private_keys(text: str) -> list[Finding]:
    if "PRIVATE KEY" not in text and "PuTTY" not in text:
        return []
    found = []
    for pattern, name in ((_PEM, "pem-block"), (_PEM_UNTERMINATED, "pem-block-truncated"),
                          (_PUTTY, "putty-key")):
        for m in pattern.finditer(text):
            body = m.group("body") if "body" in pattern.groupindex else m.group()
            if _real_key_body(body):
                found.append(Finding("private_key", m.start(), m.end(), m.group(), name))
    return found


# --- passwords --------------------------------------------------------------------

# `name <op> value` where the name ends in password/passwd/passphrase/pwd/pass/pw.
# Operators: = := => == != and `:` (YAML, JSON, dicts, kwargs-like), and a typed
# assignment `password: str = "..."`. Values: a quoted string, or a bare token
# (ENV, YAML, INI, URLs' query strings, `--password=x`) that must not look like
# code, and, unless glued to the name (`PASSWORD=x cmd`), must end its statement
# (`# First pass: determine the length` is prose).
_PASSWORD_ASSIGN = re.compile(
    r"""(?<![\w$@.-])(?P<name>[\w$@.-]*?(?i:passw(?:or)?d|passphrase|pass|pwd|pw))(?![\w])
        ["'\]]?[ \t]*
        (?P<op>:[ \t]*[A-Za-z_][\w\[\]., |]*?[ \t]*=(?!=)|:=|=>|[=!]==?|=|:)[ \t]*
        (?:(?P<q>["'`])(?P<qval>(?:\\.|(?!(?P=q))[^\\\n])*)(?P=q)
          |(?P<bare>(?:[^\s"'`,;&)\]}]|&(?![\w.-]+=))+))""", re.VERBOSE)
# What may follow a bare value that ends its statement: end of line, a comment,
# a separator, a closing bracket or quote.
_STATEMENT_END = re.compile(r"""[ \t]*(?:\r?\n|$|[#,;&)\]}"'`])""")
# SQL: CREATE USER ... IDENTIFIED BY 'secret'.
_SQL_IDENTIFIED = re.compile(r"(?i)\bidentified\s+by\s+(?P<q>['\"])(?P<qval>[^'\"\n]+)(?P=q)")
# scheme://user:password@host (postgres, mysql, mongodb+srv, redis, amqp, ...).
_CONN_STRING = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*:(?P<pw>[^\s@/'\"]+)@[\w.\[\]-]")

# Names that end in a password word but hold something else.
_NOT_PASSWORD_NAME = re.compile(r"(?i)(?:^|[_.-])(?:bypass|compass|surpass|trespass)$|"
                                r"^(?:by|com|sur|tres|over)pass$")
# Short keywords need a word boundary in the name: DB_PASS, dbPass, mysql_pwd,
# --pw (not `compass`, `bypass`); long ones may be glued: PGPASSWORD, userpassword.
_SHORT_KEYWORD = re.compile(r"(?i)(?:pass|pwd|pw)$")
_BOUNDARY_BEFORE_SHORT = re.compile(r"(?:^|[^A-Za-z0-9]|[a-z0-9](?=[A-Z]))(?i:pass|pwd|pw)$")

# Placeholders and references, not passwords: templates (`<password>`, `{pw}`,
# `${DB_PASSWORD}`, `%(pw)s`, `{{ vault_pw }}`), masks (`****`, `xxxx`), the name
# itself as value (`password: password`, `user:pass@`), and documentation words.
_PLACEHOLDER = re.compile(
    r"""(?ix)^(?:
        [<{\[(%$].*|.*[>}\]]|        # <...>, {...}, ${...}, %(x)s, [...]
        (.)\1*|                      # xxxx, ****, ....
        .*(?:password|passwd|your|example|placeholder|changeme|change[_-]me|redacted|dummy).*|
        pass|pwd|pw|secret|none|null|nil|undefined|true|false|required|optional|
        test|testing|foo|bar|baz|foobar       # metasyntactic values of test code
    )$""")
# Bare (unquoted) values that are code, not literals: calls, attribute access,
# subscripts, type names, YAML anchors/tags/blocks, variables named like passwords.
_BARE_CODE = re.compile(
    r"""(?x)^(?:.*[()\[\]].*|[A-Za-z_]\w*\.[A-Za-z_].*|[&*!|>@].*|
        (?i:str|string|int|bool|bytes|optional|any|self|this|os|env|getpass|input|
            len|secret|secrets|auth|pass(?:word|wd)?|pwd|pw)|
        .*(?i:passw|pwd|_pw\b).*)$""")


def _is_password_name(name: str) -> bool:
    name = name.lstrip("$@.-")
    if _NOT_PASSWORD_NAME.search(name):
        return False
    return not _SHORT_KEYWORD.search(name) or bool(_BOUNDARY_BEFORE_SHORT.search(name))


# Locale files: `"password": "Contraseña"`, `password: Passwort`, `"密码"`. A value
# of letters only that is capitalised or not ASCII is a label; all-lowercase
# letters (`letmein`) stay passwords.
_LABEL = re.compile(r"^(?:[A-Z][a-z]+|[^\W\d_]*[^\x00-\x7f][^\W\d_]*)$")


def _is_password_value(value: str, bare: bool) -> bool:
    if not value or len(value) > 128 or " " in value or _PLACEHOLDER.match(value):
        return False
    if _LABEL.match(value):
        return False
    return not (bare and _BARE_CODE.match(value))


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _bare_is_literal(m: re.Match) -> bool:
    """Whether a bare value is a config literal rather than code. `--password=x y`
    (glued) need not end its statement; a bare value never follows a comparison;
    an identifier is a variable in a call (`f(password=pw)`), a tuple
    (`user, password = u, p`) or a spaced assignment without a digit
    (`self.password = password_from_user`), but a literal in `PASSWORD: hunter`
    and `password = hunter2`."""
    op, value, end = m.group("op"), m.group("bare"), m.end()
    glued = not any(c.isspace() for c in m.group()) and op == "="
    if op in ("==", "!=", "===", "!==") or not (glued or _STATEMENT_END.match(m.string, end)):
        return False
    if not _IDENTIFIER.fullmatch(value):
        return True
    line_start = m.string.rfind("\n", 0, m.start()) + 1
    if m.string.startswith((",", ")"), end) or "," in m.string[line_start:m.start()]:
        return False
    return op != "=" or glued or any(c.isdigit() for c in value)


def _is_tuple_assignment(m: re.Match) -> bool:
    """`user, password = "wile", "coyote"`: the value right after `=` is the
    user's, not the password's (kwargs `f(user="a", password="b")` are glued)."""
    line_start = m.string.rfind("\n", 0, m.start()) + 1
    value_start = m.start("bare") if m.group("bare") is not None else m.start("q")
    spaced = any(c.isspace() for c in m.string[m.end("name"):value_start])
    return (spaced and m.group("op") == "=" and "," in m.string[line_start:m.start()]
            and m.string[m.end():m.end() + 8].lstrip(" \t").startswith(","))


def _find_passwords(text: str) -> list[Finding]:
    found = []
    for m in _PASSWORD_ASSIGN.finditer(text):
        bare = m.group("bare") is not None
        group = "bare" if bare else "qval"
        if (bare and not _bare_is_literal(m)) or _is_tuple_assignment(m):
            continue
        if _is_password_name(m.group("name")) and _is_password_value(m.group(group), bare):
            found.append(Finding("password", *m.span(group), m.group(group), "password-assignment"))
    for m in _SQL_IDENTIFIED.finditer(text):
        if _is_password_value(m.group("qval"), bare=False):
            found.append(Finding("password", *m.span("qval"), m.group("qval"), "sql-identified-by"))
    if "://" in text:
        for m in _CONN_STRING.finditer(text):
            if _is_password_value(m.group("pw"), bare=False):
                found.append(Finding("password", *m.span("pw"), m.group("pw"), "connection-string"))
    return found


# --- keys and tokens ----------------------------------------------------------------

# detect-secrets plugins that recognise a token by its format (prefix, length,
# charset). BigCode's list (keys_detection.py) plus the ones detect-secrets added
# since (GitLab, OpenAI, PyPI, Square, Telegram).
_FORMAT_PLUGINS = (
    "artifactory.ArtifactoryDetector", "aws.AWSKeyDetector",
    "azure_storage_key.AzureStorageKeyDetector", "cloudant.CloudantDetector",
    "discord.DiscordBotTokenDetector", "github_token.GitHubTokenDetector",
    "gitlab_token.GitLabTokenDetector", "ibm_cloud_iam.IbmCloudIamDetector",
    "ibm_cos_hmac.IbmCosHmacDetector", "jwt.JwtTokenDetector", "mailchimp.MailchimpDetector",
    "npm.NpmDetector", "openai.OpenAIDetector", "pypi_token.PypiTokenDetector",
    "sendgrid.SendGridDetector", "slack.SlackDetector", "softlayer.SoftlayerDetector",
    "square_oauth.SquareOAuthDetector", "stripe.StripeDetector",
    "telegram_token.TelegramBotTokenDetector", "twilio.TwilioKeyDetector",
)
# detect-secrets' gibberish filter threshold (filters/gibberish, `limit`).
_GIBBERISH_LIMIT = 3.7
# Entropy candidates: hex shorter than 16 or base64 shorter than 20 characters is
# too short to be a credential (and base64 cannot reach the 4.5-bit limit below 23
# distinct characters); longer than 256 is an embedded blob (font, image, fixture).
_MIN_HEX, _MIN_B64, _MAX_ENTROPY_LEN = 16, 20, 256

# Checksums, digests, commit ids: BigCode's is_hash looked for sha/md5/hash/byte
# on the value's line; we add the words that name the same things in lockfiles,
# manifests and tests.
# (`sha` must stand alone or carry its size: `shared_secret` is not a hash.)
_HASH_CONTEXT = re.compile(
    r"(?i)(?<![a-z])sha(?:\d+|sum)?(?![a-z])|md5|hash|digest|checksum|integrity|fingerprint|"
    r"etag|(?<![a-z])crc|commit|\brev\b|revision|nonce|\bsum\b|\bbytes?\b")
# A bare hex string is a key only where the code says so, by assigning it to a
# secret-named target right before it (`api_key = "`, `"client_secret": "`,
# `Bearer `): hex is what checksums, ids and test vectors look like, and a
# "password" earlier on the line (`(b'password', b'salt', unhexlify('...'))`, a
# key-derivation test vector) does not make the hex a secret.
_SECRET_NAME_BEFORE = re.compile(
    r"""(?i)(?:key|secret|token|passw\w*|pwd|auth\w*|credentials?|bearer|signing)[\w-]*["'\]]?"""
    r"""\s*(?:=>|:=|[:=(,]|\s)\s*(?:b?["'`])?$""")
# Secrets named in config without quotes (ENV, YAML, INI): detect-secrets scans
# such files with its entropy plugins' unquoted regex; we do the same on lines
# that assign to a name containing key/secret/token.
_UNQUOTED_SECRET = re.compile(
    r"(?im)^[ \t]*(?:export[ \t]+)?[\w.-]*(?:key|secret|token)[\w.-]*[ \t]*[:=][ \t]*"
    r"(?P<v>[A-Za-z0-9+/=_-]{16,})[ \t]*(?:#.*)?\r?$")
# `Authorization: Bearer <token>`: a space inside the quotes hides the token from
# the entropy plugins.
_BEARER = re.compile(r"(?i)\b(?:bearer|token)[ \t]+(?P<v>[A-Za-z0-9._~+/=-]{20,})")
# AWS's documentation keys (AKIAIOSFODNN7EXAMPLE, wJalrXUtnFEMI/K7MDENG/...EXAMPLEKEY),
# their imitators, and keyboard runs: published examples, not credentials.
_PLACEHOLDER_KEY = re.compile(
    r"(?i)example|xxxxx|your|placeholder|dummy|sample|fake|test|redacted|qwerty|asdf|zxcv")
# Magic numbers of binary formats: base64 that decodes to one is an embedded file.
_BINARY_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"%PDF", b"\x1f\x8b",
                 b"BM", b"RIFF", b"\x00\x00\x01\x00", b"wOF", b"OTTO")
_HEX = frozenset("0123456789abcdefABCDEF")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9+/]+")
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_-]*")
_JWT_TAIL = re.compile(r"[A-Za-z0-9_+/=-]*")
_LEAD = re.compile(r"""^(?:[ \t\r\n=:"']|[A-Za-z]+=)+""")  # `=AKC...`, `AccountKey=...`
_TRAIL = " \t\r\n\"'"


def _import_detect_secrets():
    try:
        import detect_secrets.filters.heuristic as heuristic
        import gibberish_detector  # noqa: F401  (detect-secrets' [gibberish] extra)
    except ImportError as e:
        raise ImportError(f"PII kind 'key' needs detect-secrets with its gibberish model "
                          f"({e.name} is missing): {INSTALL_HINT}") from e
    return heuristic


@lru_cache(maxsize=1)
def _plugins():
    """(format plugins, hex entropy plugin, base64 entropy plugin), built once."""
    import importlib

    _import_detect_secrets()
    from detect_secrets.plugins.high_entropy_strings import (Base64HighEntropyString,
                                                             HexHighEntropyString)
    fmt = []
    for path in _FORMAT_PLUGINS:
        module, cls = path.rsplit(".", 1)
        fmt.append(getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), cls)())
    # detect-secrets' default limits: 3.0 bits for hex, 4.5 for base64.
    return tuple(fmt), HexHighEntropyString(limit=3.0), Base64HighEntropyString(limit=4.5)


@lru_cache(maxsize=1)
def _gibberish_detector():
    """detect-secrets' own gibberish model (filters/gibberish/rfc.model), loaded once."""
    from importlib.resources import files

    from gibberish_detector import serializer
    from gibberish_detector.detector import Detector
    model = (files("detect_secrets.filters.gibberish") / "rfc.model").read_text()
    return Detector(model=serializer.deserialize(model), threshold=_GIBBERISH_LIMIT)


def _is_word_like(value: str, whole: bool = False) -> bool:
    """BigCode's is_gibberish check, inverted. Format tokens are judged on their
    longest alphanumeric run (a prefix such as `xoxb-` or a suffix such as
    Mailchimp's `-us14` is not the secret); entropy candidates as a whole, as
    BigCode did (`-with-SUPER-MONKEYS-pc58ag80` is words around a random run).
    Hex is never word-like: detect-secrets found the model cannot judge so small
    an alphabet."""
    run = value if whole else max(_ALNUM_RUN.findall(value), key=len, default="")
    if not set(run) - _HEX - {"-"}:
        return False
    return not _gibberish_detector().is_gibberish(run.lower())


def _decodes_to_data(value: str) -> bool:
    """Base64 of text or of a known binary format: test fixtures, not keys."""
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return False
    if raw.startswith(_BINARY_MAGIC):
        return True
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(c.isprintable() or c in "\n\r\t" for c in decoded)
    return len(decoded) >= 8 and printable >= 0.95 * len(decoded)


# Cheap pre-scans for the slow format plugins (detect-secrets' assignment-style
# regexes try a long alternation at every position): their matches lie on one line
# that holds a run of 24+ token characters (or Artifactory's and Mailchimp's
# literal prefixes), so only those lines are scanned: same matches, half the time.
_LONG_RUN = re.compile(r"[A-Za-z0-9_-]{24,}")
_GATES = {"CloudantDetector": _LONG_RUN, "IbmCloudIamDetector": _LONG_RUN,
          "IbmCosHmacDetector": _LONG_RUN, "SoftlayerDetector": _LONG_RUN,
          "ArtifactoryDetector": re.compile(r"AKC|AP[0-9A-F]"),
          "MailchimpDetector": re.compile(r"-us\d")}


def _gated_lines(text: str, gate: re.Pattern | None) -> list[tuple[int, int]]:
    """(start, end) of the merged lines where `gate` matches; the whole text if none."""
    if gate is None:
        return [(0, len(text))]
    regions: list[tuple[int, int]] = []
    for m in gate.finditer(text):
        start, end = _line_bounds(text, m.start(), m.end())
        if regions and start <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(end, regions[-1][1]))
        else:
            regions.append((start, end))
    return regions


def _format_candidates(text: str) -> list[Finding]:
    """Matches of the format plugins' own regexes (`denylist`), confirmed by the
    plugin's `analyze_string` (which adds checks such as the JWT's JSON header),
    widened to the end of the token so that no tail of a longer token is left."""
    found = []
    for plugin in _plugins()[0]:
        name = type(plugin).__name__
        tail = _JWT_TAIL if name == "JwtTokenDetector" else _TOKEN_TAIL
        for (lo, hi), regex in itertools.product(_gated_lines(text, _GATES.get(name)),
                                                 plugin.denylist):
            for m in regex.finditer(text, lo, hi):
                start, end = _secret_span(m)
                if end - start >= 8 and next(iter(plugin.analyze_string(m.group())), None):
                    end = tail.match(text, end).end()
                    found.append(Finding("key", start, end, text[start:end], name))
    return found


def _secret_span(m: re.Match) -> tuple[int, int]:
    """The secret inside a plugin's match: its longest group when that is long
    enough to be one (AWS secret keys, Cloudant, IBM: the regex also matches the
    variable name), else the whole match (GitHub's group is only the `ghp` prefix),
    without the delimiters and names some patterns include (Artifactory's `="...`,
    Azure's `AccountKey=`)."""
    groups = [i for i in range(1, (m.re.groups or 0) + 1) if m.group(i)]
    best = max(groups, key=lambda i: len(m.group(i)), default=0)
    start, end = m.span(best) if best and len(m.group(best)) >= 16 else m.span()
    value = m.string[start:end]
    lead = _LEAD.match(value)
    return start + (lead.end() if lead else 0), start + len(value.rstrip(_TRAIL))


def _keep_format_key(f: Finding, heuristic) -> bool:
    value = f.value
    return not (_PLACEHOLDER_KEY.search(value) or heuristic.is_templated_secret(value)
                or heuristic.is_sequential_string(value) or _is_word_like(value))


def _entropy_ok(value: str) -> bool:
    _, hex_plugin, b64_plugin = _plugins()
    if not set(value) - _HEX:
        return (_MIN_HEX <= len(value) <= _MAX_ENTROPY_LEN
                and hex_plugin.calculate_shannon_entropy(value) > hex_plugin.entropy_limit)
    return (_MIN_B64 <= len(value) <= _MAX_ENTROPY_LEN
            and b64_plugin.calculate_shannon_entropy(value) > b64_plugin.entropy_limit)


def _is_alphabet(value: str) -> bool:
    """Charsets and alphabets spelled out in code (`ABCDEFGHIJKLMNOPQRSTUVWXYZ234567`,
    the base32 alphabet): mostly consecutive characters. detect-secrets'
    is_sequential_string knows only a few exact sequences."""
    steps = sum(abs(ord(b) - ord(a)) == 1 for a, b in zip(value, value[1:]))
    return steps >= 0.6 * (len(value) - 1)


def _keep_entropy_key(text: str, start: int, end: int, heuristic) -> bool:
    """The filters BigCode applied on top of detect-secrets' entropy plugins, and ours."""
    value = text[start:end]
    # A backslash is an escape sequence (`"abc...xyz\\0"`), never base64: the
    # plugin's charset includes it by accident.
    if "\\" in value or not _entropy_ok(value) or _is_alphabet(value):
        return False
    line_start, line_end = _line_bounds(text, start, end)
    line = text[line_start:line_end]
    before = text[line_start:start]
    if (heuristic.is_potential_uuid(value) or heuristic.is_sequential_string(value)
            or heuristic.is_templated_secret(value) or heuristic.is_not_alphanumeric_string(value)
            or heuristic.is_likely_id_string(value, line) or _PLACEHOLDER_KEY.search(value)):
        return False
    # BigCode's is_hash, on the text before the value on its line (and the value,
    # for SRI strings such as "sha512-..."). Their file_has_hashes (drop every key
    # of a file where >2% of lines say sha/hash) is not used: it is not local, and
    # in a short text such as a model's answer one "sha" would disable keys.
    if _HASH_CONTEXT.search(before) or _HASH_CONTEXT.match(value):
        return False
    if not set(value) - _HEX:
        return bool(_SECRET_NAME_BEFORE.search(before))
    return not (_is_word_like(value, whole=True) or _decodes_to_data(value))


def _entropy_candidates(text: str) -> list[tuple[int, int, str]]:
    """(start, end, detector) of quoted strings (the plugins' own regexes), unquoted
    config values and bearer tokens."""
    _, hex_plugin, b64_plugin = _plugins()
    spans = {}
    # The hex charset is inside the base64 one: one pass finds both; the plugin is
    # named by what the value turns out to be.
    for m in b64_plugin.regex.finditer(text):
        spans[m.span(2)] = None
    for pattern in (_UNQUOTED_SECRET, _BEARER):
        for m in pattern.finditer(text):
            spans[m.span("v")] = None
    out = []
    for start, end in spans:
        is_hex = not set(text[start:end]) - _HEX
        out.append((start, end, type(hex_plugin if is_hex else b64_plugin).__name__))
    return out


def _find_keys(text: str) -> list[Finding]:
    heuristic = _import_detect_secrets()
    found = [f for f in _format_candidates(text) if _keep_format_key(f, heuristic)]
    for start, end, name in _entropy_candidates(text):
        if end - start >= _MIN_HEX and _keep_entropy_key(text, start, end, heuristic):
            found.append(Finding("key", start, end, text[start:end], name))
    return found


_DETECTORS = {
    "email": _find_emails,
    "ip_address": _find_ips,
    "key": _find_keys,
    "password": _find_passwords,
    "private_key": _find_private_keys,
}
