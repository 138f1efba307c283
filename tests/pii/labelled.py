"""A labelled evaluation set for codecommons.pii: snippets of code and config with
every PII span marked, and hard negatives marked as having none.

    from tests.pii.labelled import CASES      # list[Case], built deterministically

Every key, token, password and address here is FAKE: generated from a seeded RNG
in the real formats (AWS `AKIA` + 16, GitHub `ghp_` + 36, Slack `xoxb-...`, Stripe
`sk_live_...`, JWTs, ...), never copied from anywhere. Emails are made-up names at
real mail domains; IPs are drawn from public ranges.

Labelling decisions (the truth, not what the detector happens to do; a few
positives are known misses and keep recall honest):
- Emails at RFC 2606 / 6761 reserved domains (example.com, *.test, ...) are not
  PII: negatives. BigCode's annotators counted them as emails.
- AWS's documentation keys (AKIAIOSFODNN7EXAMPLE, wJalrXUtnFEMI/...EXAMPLEKEY)
  are published placeholders: negatives, though detect-secrets flags the first.
- Private, loopback, link-local, documentation and multicast IPs and public DNS
  resolvers: negatives. So are versions, OIDs and section numbers.
- A UUID used as an API key (Heroku's format) is a positive the detector misses
  on purpose (detect-secrets and BigCode drop every UUID).
- Passwords: literal values only. Empty strings, None, environment lookups,
  templates (`${DB_PASSWORD}`), masks (`****`) and the word itself are negatives.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import string
from dataclasses import dataclass

SEED = 20230509  # the StarCoder paper's arXiv month, nothing more


@dataclass(frozen=True)
class Case:
    name: str  # what the snippet exercises; "neg:" for hard negatives
    text: str
    gold: tuple[tuple[str, int, int], ...]  # (kind, start, end), sorted


def _case(name: str, text: str, *items: tuple[str, str]) -> Case:
    """A case whose gold spans are the first occurrence of each (kind, value)."""
    gold = []
    for kind, value in items:
        start = text.index(value)
        gold.append((kind, start, start + len(value)))
    return Case(name, text, tuple(sorted(gold, key=lambda g: g[1])))


def _neg(name: str, text: str) -> Case:
    return Case("neg:" + name, text, ())


class _Fake:
    """Realistically formatted fake values from one seeded RNG."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def alnum(self, n: int) -> str:
        return self.chars(string.ascii_letters + string.digits, n)

    def hex(self, n: int) -> str:
        return self.chars("0123456789abcdef", n)

    def b64(self, n: int) -> str:
        return self.chars(string.ascii_letters + string.digits + "+/", n)

    def b64url(self, n: int) -> str:
        return self.chars(string.ascii_letters + string.digits + "-_", n)

    def aws_id(self) -> str:
        return "AKIA" + self.chars(string.ascii_uppercase + "234567", 16)

    def github(self, prefix: str = "ghp_") -> str:
        return prefix + self.alnum(36)

    def slack(self) -> str:
        return (f"xoxb-{self.chars(string.digits, 12)}-{self.chars(string.digits, 13)}-"
                f"{self.chars(string.ascii_letters + string.digits, 24)}")

    def stripe(self, prefix: str = "sk_live_") -> str:
        return prefix + self.alnum(self.r.choice([24, 34, 99]))

    def jwt(self) -> str:
        def enc(obj: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
        payload = {"sub": self.chars(string.digits, 10), "name": self.r.choice(_NAMES).title(),
                   "iat": self.r.randrange(1_500_000_000, 1_700_000_000)}
        return f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc(payload)}.{self.b64url(43)}"

    def password(self) -> str:
        word = self.r.choice(["hunter", "Tr0ub4dor", "dragon", "Sunshine", "monkey", "Pa55",
                              "letmein", "qwerty", "Shadow", "michael", "Zxcv", "Blue"])
        return word + self.chars(string.digits, self.r.randint(1, 4)) + self.r.choice(
            ["", "!", "#", "$", "&", "_x", "?"])

    def email(self) -> str:
        first, last = self.r.choice(_NAMES), self.r.choice(_SURNAMES)
        local = self.r.choice([f"{first}.{last}", f"{first[0]}{last}",
                               f"{first}_{last}{self.r.randint(1, 99)}", f"{first}"])
        return f"{local}@{self.r.choice(_MAIL_DOMAINS)}"

    def ipv4(self) -> str:
        while True:
            ip = ipaddress.IPv4Address(self.r.getrandbits(32))
            text = str(ip)
            if (ip.is_global and not ip.is_multicast and text not in _RESOLVERS
                    and any(len(o) > 1 for o in text.split("."))):
                return text

    def ipv6(self) -> str:
        head = self.r.choice([0x2001, 0x2400, 0x2600, 0x2a00, 0x2a03, 0x2c0f, 0x2602, 0x2804])
        groups = [head, self.r.randrange(0x100, 0xffff)] + [self.r.randrange(0, 0xffff) for _ in range(6)]
        ip = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
        return ip.compressed if ip.is_global and head != 0x2001 else "2a00:1450:4001:81c::200e"


_NAMES = ["jane", "john", "maria", "wei", "olga", "ahmed", "priya", "lukas", "sofia",
          "kenji", "fatima", "diego", "anna", "tomasz", "chloe", "ravi"]
_SURNAMES = ["doe", "smith", "garcia", "zhang", "ivanova", "hassan", "patel", "muller",
             "rossi", "tanaka", "okafor", "lopez", "berg", "nowak", "martin", "kumar"]
_MAIL_DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "proton.me", "acme-corp.io",
                 "cs.stanford.edu", "uni-heidelberg.de", "mail.ru", "fastmail.fm", "web.de",
                 "company.co.jp", "posteo.net"]
_RESOLVERS = {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "208.67.222.222",
              "208.67.220.220"}


def _email_cases(f: _Fake) -> list[Case]:
    templates = [
        "# Author: {name} <{v}>\n",
        "__email__ = \"{v}\"\n",
        "setup(name=\"pkg\", author=\"{name}\", author_email=\"{v}\")\n",
        "/**\n * @author {name} ({v})\n */\n",
        "MAINTAINER {name} <{v}>\n",
        "contact = {{\"email\": \"{v}\", \"role\": \"owner\"}}\n",
        "<a href=\"mailto:{v}\">Contact us</a>\n",
        "git commit --author=\"{name} <{v}>\" -m fix\n",
        "// Questions? Write to {v}.\n",
        "ADMINS = [(\"{name}\", \"{v}\")]\n",
        "maintainers:\n  - name: {name}\n    email: {v}\n",
        "send_mail(subject, body, \"{v}\", [to])\n",
        "Signed-off-by: {name} <{v}>\n",
        "    \"\"\"Report bugs to {v} or open an issue.\"\"\"\n",
        "email = '{v}'  # test account\n",
        "Copyright (c) 2019 {name} <{v}>\n",
    ]
    cases = []
    for i, t in enumerate(templates * 2):
        v = f.email()
        cases.append(_case(f"email-{i}", t.format(v=v, name=f.r.choice(_NAMES).title()), ("email", v)))
    cases.append(_case("email-test.com", "login(\"admin@test.com\", pw)\n", ("email", "admin@test.com")))
    negatives = [
        ("example.com", "user = User(email=\"jane.doe@example.com\")\n"),
        ("example.org", "# e.g. noreply@example.org\n"),
        ("dot-test", "assert validate(\"someone@mail.test\")\n"),
        ("localhost", "FROM = \"root@localhost\"\n"),
        ("git-remote", "git clone git@github.com:bigcode-project/starcoder.git\n"),
        ("ssh-url", "url = \"ssh://git@gitlab.com/group/repo.git\"\n"),
        ("retina", "<img src=\"icons/logo@2x.png\" srcset=\"logo@3x.webp 3x\">\n"),
        ("npm-version", "npm install lodash@4.17.21 react@18.2.0\n"),
        ("decorator", "@app.route(\"/\")\n@login_required\ndef index(): ...\n"),
        ("matmul", "y = x @ W.T + b\nz = a@b\n"),
        ("scoped-package", "import { Component } from \"@angular/core\";\n"),
        ("url-userinfo", "proxy = \"http://alice@proxy.corp.net:3128\"\n"),
        ("at-handle", "Thanks to @octocat and @jane_doe for the review.\n"),
        ("css", "@media (max-width: 600px) { .a { color: red } }\n"),
        ("invalid", "bounce = \"nobody@nowhere.invalid\"\n"),
    ]
    return cases + [_neg(n, t) for n, t in negatives]


def _ip_cases(f: _Fake) -> list[Case]:
    v4 = [
        "HOST = \"{v}\"\n",
        "server {{\n    listen 80;\n    server_name {v};\n}}\n",
        "curl -s http://{v}:8080/health\n",
        "ALLOWED_HOSTS = [\"{v}\", \"localhost\"]\n",
        "{v} - - [10/Oct/2023:13:55:36 +0000] \"GET / HTTP/1.1\" 200 2326\n",
        "ssh -i key.pem ubuntu@{v}\n",
        "sock.connect((\"{v}\", 443))\n",
        "upstream backend {{ server {v}:9000; }}\n",
        "- host: {v}\n  port: 5432\n",
        "iptables -A INPUT -s {v} -j DROP\n",
        "const API = 'https://{v}/v1';\n",
        "// blocked {v} after abuse\n",
        "conn = psycopg2.connect(host=\"{v}\", dbname=\"app\")\n",
        "Address: {v}\n",
        "ping {v}\n",
        "\"remote_addr\": \"{v}\",\n",
    ]
    v6 = [
        "addr = \"{v}\"\n",
        "listen [{v}]:443 ssl;\n",
        "AAAA record -> {v}\n",
        "client_ip: {v}\n",
        "curl -g 'http://[{v}]:8080/'\n",
        "peers = [\"{v}\"]\n",
    ]
    cases = []
    for i, t in enumerate(v4 * 2):
        v = f.ipv4()
        cases.append(_case(f"ipv4-{i}", t.format(v=v), ("ip_address", v)))
    for i, t in enumerate(v6 * 2):
        v = f.ipv6()
        cases.append(_case(f"ipv6-{i}", t.format(v=v), ("ip_address", v)))
    a, b = f.ipv4(), f.ipv4()
    cases.append(_case("ipv4-two", f"{a} -> {b}\n", ("ip_address", a), ("ip_address", b)))
    negatives = [
        ("loopback", "app.run(host=\"127.0.0.1\", port=5000)\n"),
        ("any", "bind = \"0.0.0.0:8000\"\n"),
        ("private-10", "DB_HOST=10.0.12.7\n"),
        ("private-192", "gateway 192.168.1.1\n"),
        ("private-172", "redis = \"172.17.0.2\"\n"),
        ("link-local", "METADATA = \"http://169.254.169.254/latest/meta-data/\"\n"),
        ("netmask", "netmask 255.255.255.0\n"),
        ("google-dns", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"),
        ("cloudflare-dns", "resolvers = [\"1.1.1.1\", \"1.0.0.1\"]\n"),
        ("opendns", "dns: [208.67.222.222, 208.67.220.220]\n"),
        ("quad9", "DNS=9.9.9.9\n"),
        ("version", "__version__ = \"2.10.31.4\"\n"),
        ("version-json", "{\"name\": \"pkg\", \"version\": \"4.17.21.3\"}\n"),
        ("assembly-version", "[assembly: AssemblyVersion(\"3.104.22.7\")]\n"),
        ("v-prefix", "Released v12.4.33.2 today.\n"),
        ("single-digit-version", "requires lib 1.2.3.4 or later\n"),
        ("oid", "OID_CODE_SIGNING = \"1.3.6.1.5.5.7.3.3\"\n"),
        ("doc-range", "example: 203.0.113.7 and 198.51.100.23, 192.0.2.10\n"),
        ("ipv6-loopback", "host = \"::1\"\n"),
        ("ipv6-link-local", "fe80::1ff:fe23:4567:890a%eth0\n"),
        ("ipv6-doc", "addr = \"2001:db8::8a2e:370:7334\"\n"),
        ("cpp-scope", "std::vector<int> v; a::b::c();\n"),
        ("time", "at 12:30:45 on 2023-10-01\n"),
        ("mac", "ether 00:1a:2b:3c:4d:5e\n"),
        ("slice", "evens = data[2048::2]\n"),
        ("multicast", "SSDP_ADDR = \"239.255.255.250\"\n"),
        ("cgnat", "peer 100.64.0.1\n"),
        ("user-agent", "UA = \"Mozilla/5.0 (X11; Linux x86_64) Chrome/114.0.223.99 Safari/537.36\"\n"),
        ("pip-pin", "selenium==3.141.59.2\n"),
        ("section", "See section 12.4.3.21 of the specification.\n"),
    ]
    return cases + [_neg(n, t) for n, t in negatives]


def _key_cases(f: _Fake) -> list[Case]:
    cases = []

    def add(name: str, template: str, value: str) -> None:
        cases.append(_case(name, template.format(v=value), ("key", value)))

    for i in range(3):
        add(f"aws-id-{i}", ["aws_access_key_id = {v}\n", "AWS_ACCESS_KEY_ID=\"{v}\"\n",
                            "s3 = boto3.client('s3', aws_access_key_id='{v}')\n"][i], f.aws_id())
    add("aws-secret", "aws_secret_access_key = \"{v}\"\n", f.b64(40))
    add("aws-secret-env", "AWS_SECRET_ACCESS_KEY: \"{v}\"\n", f.b64(40))
    for i, prefix in enumerate(["ghp_", "gho_", "ghp_"]):
        add(f"github-{i}", ["GITHUB_TOKEN = \"{v}\"\n",
                            "git remote set-url origin https://{v}@github.com/o/r\n",
                            "headers = {{'Authorization': 'token {v}'}}\n"][i], f.github(prefix))
    for i in range(3):
        add(f"slack-{i}", ["SLACK_BOT_TOKEN=\"{v}\"\n", "client = WebClient(token=\"{v}\")\n",
                           "slack:\n  token: {v}\n"][i], f.slack())
    add("slack-webhook", "WEBHOOK = \"{v}\"\n",
        f"https://hooks.slack.com/services/T{f.alnum(8).upper()}/B{f.alnum(10).upper()}/{f.alnum(24)}")
    for i, prefix in enumerate(["sk_live_", "rk_live_", "sk_live_"]):
        add(f"stripe-{i}", ["stripe.api_key = \"{v}\"\n", "STRIPE_KEY: {v}\n",
                            "const stripe = require('stripe')('{v}');\n"][i], f.stripe(prefix))
    add("sendgrid", "SENDGRID_API_KEY = '{v}'\n", f"SG.{f.b64url(22)}.{f.b64url(43)}")
    add("npm", "//registry.npmjs.org/:_authToken={v}\n", "npm_" + f.alnum(36))
    add("openai", "openai.api_key = \"{v}\"\n", f"sk-{f.alnum(20)}T3BlbkFJ{f.alnum(20)}")
    add("gitlab", "GITLAB_TOKEN={v}\n", "glpat-" + f.b64url(20))
    add("twilio", "TWILIO_API_KEY = \"{v}\"\n", "SK" + f.chars(string.ascii_lowercase + string.digits, 32))
    add("mailchimp", "MAILCHIMP_KEY = \"{v}\"\n", f.hex(32) + "-us14")
    for i in range(3):
        add(f"jwt-{i}", ["token = \"{v}\"\n", "Authorization: Bearer {v}\n",
                         "const jwt = `{v}`;\n"][i], f.jwt())
    add("azure", "conn = \"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={v};"
        "EndpointSuffix=core.windows.net\"\n", f.b64(86) + "==")
    for i, t in enumerate(["api_key = \"{v}\"\n", "API_SECRET = '{v}'\n", "self.secret_key = \"{v}\"\n",
                           "\"client_secret\": \"{v}\",\n", "signing_key := \"{v}\"\n"]):
        add(f"hex-secret-{i}", t, f.hex([32, 40, 64, 32, 48][i]))
    for i, t in enumerate(["SECRET_KEY = \"{v}\"\n", "config.auth_token = '{v}';\n",
                           "private static final String API_KEY = \"{v}\";\n", "{{\"apiKey\": \"{v}\"}}\n",
                           "const accessToken = \"{v}\";\n", "session_secret = \"{v}\"\n"]):
        add(f"b64-secret-{i}", t, f.alnum([40, 32, 48, 36, 44, 40][i]))
    add("env-unquoted", "API_KEY={v}\n", f.alnum(32))
    add("yaml-unquoted", "app:\n  secret_key: {v}\n", f.b64url(40))
    add("bearer", "curl -H \"Authorization: Bearer {v}\" https://api.service.io/v2/me\n", f.alnum(40))
    # Known misses, labelled as the truth: a UUID-shaped API key (Heroku), a short
    # secret below the entropy limit, a key under a name that does not say so.
    add("uuid-api-key", "HEROKU_API_KEY=\"{v}\"\n",
        f"{f.hex(8)}-{f.hex(4)}-4{f.hex(3)}-a{f.hex(3)}-{f.hex(12)}")
    add("short-secret", "secret = \"{v}\"\n", f.alnum(16))
    add("unnamed", "X = \"{v}\"\n", f.hex(40))
    add("django-secret", "SECRET_KEY = '{v}'\n", "django-insecure-" + f.chars(
        string.ascii_lowercase + string.digits + "!@#%^&*(-_=+)", 50))

    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    negatives = [
        ("md5", f"md5 = \"{f.hex(32)}\"\n"),
        ("sha1", f"expected_sha1 = '{f.hex(40)}'\n"),
        ("sha256", f"SHA256 = \"{f.hex(64)}\"\n"),
        ("checksums", f"checksums = {{\n    \"v1.tar.gz\": \"{f.hex(64)}\",\n}}\n"),
        ("hash-dict", f"file_hashes = {{\"a.bin\": \"{f.hex(32)}\"}}\n"),
        ("digest", f"assert h.hexdigest() == \"{f.hex(64)}\"\n"),
        ("git-sha", f"commit = \"{f.hex(40)}\"\n"),
        ("git-rev-yaml", f"-   repo: https://github.com/psf/black\n    rev: {f.hex(40)}\n"),
        ("pip-hash", f"requests==2.31.0 --hash=sha256:{f.hex(64)}\n"),
        ("sri", f"\"integrity\": \"sha512-{f.b64(86)}==\",\n"),
        ("etag", f"headers[\"ETag\"] = \"{f.hex(32)}\"\n"),
        ("uuid", "request_id = \"3f2b8c1e-9d4a-4f6b-8e2a-7c5d1b9e0a47\"\n"),
        ("uuid-bare", "NAMESPACE = uuid.UUID(\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\")\n"),
        ("id-string", f"user_id = \"{f.alnum(32)}\"\n"),
        ("b64-text", "data = \"VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZw==\"\n"),
        ("b64-json", "payload = 'eyJ1c2VyIjogImphbmUiLCAicm9sZSI6ICJhZG1pbiJ9'\n"),
        ("b64-png", f"PIXEL = \"{png}\"\n"),
        ("b64-long-blob", f"FONT = \"{f.b64(600)}\"\n"),
        ("aws-doc-id", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"),
        ("aws-doc-secret", "aws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"\n"),
        ("placeholder-angle", "api_key = \"<your-api-key>\"\n"),
        ("placeholder-x", "token = \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n"),
        ("placeholder-your", "API_KEY = \"YOUR_API_KEY_HERE\"\n"),
        ("placeholder-ghp", "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"),
        ("env-lookup", "api_key = os.environ[\"OPENAI_API_KEY\"]\n"),
        ("template", "token: \"${{ secrets.GITHUB_TOKEN }}\"\n"),
        ("shell-var", "export API_KEY=\"$API_KEY\"\n"),
        ("alphabet", "B32 = \"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567\"\n"),
        ("alphabet-b64", "CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'\n"),
        ("camel-identifier", "handler = \"refreshAuthenticationTokenForCurrentSession\"\n"),
        ("i18n-key", "t(\"settings.security.apiKeyDescriptionPlaceholder\")\n"),
        ("url-path", "ENDPOINT = \"/api/v2/organizations/members/permissions\"\n"),
        ("css-class", "cls = \"flex-row-reverse justify-between items-center\"\n"),
        ("hex-color", "PALETTE = [\"#1f77b4\", \"#ff7f0e\", \"#2ca02c\"]\n"),
        ("test-vector", f"KAT = \"{f.hex(64)}\"  # known-answer test vector\n"),
        ("sequential", "key = \"0123456789abcdef0123456789abcdef\"\n"),
        ("mime", "CT = \"application/x-www-form-urlencoded\"\n"),
        ("github-node-id", "{\"login\": \"octocat\", \"node_id\": \"MDQ6VXNlcjU4MzIzMQ==\"}\n"),
        ("api-sha", f"{{\"sha\": \"{f.hex(40)}\", \"url\": \"https://api.github.com/repos/o/r\"}}\n"),
    ]
    return cases + [_neg(n, t) for n, t in negatives]


def _password_cases(f: _Fake) -> list[Case]:
    templates = [
        "password = \"{v}\"\n",
        "PASSWORD: {v}\n",
        "DB_PASSWORD={v}\n",
        "db:\n  user: app\n  password: \"{v}\"\n",
        "{{\"username\": \"admin\", \"password\": \"{v}\"}}\n",
        "conn = pymysql.connect(host=h, user=\"root\", password=\"{v}\")\n",
        "const config = {{ user: 'svc', password: '{v}' }};\n",
        "$db_pass = '{v}';\n",
        "String password = \"{v}\";\n",
        "dbPassword := \"{v}\"\n",
        "spring.datasource.password={v}\n",
        "export PGPASSWORD={v}\n",
        "mysql --user=root --password={v} app\n",
        "if password == \"{v}\":\n    grant()\n",
        "smtp.login(\"mailer\", passwd=\"{v}\")\n",
        "ENV MYSQL_ROOT_PASSWORD={v}\n",
        "password: str = \"{v}\"\n",
        "CREATE USER 'app'@'%' IDENTIFIED BY '{v}';\n",
        ":password => \"{v}\",\n",
        "auth = {{\"pwd\": \"{v}\"}}\n",
    ]
    conn = [
        "DATABASE_URL = \"postgres://app:{v}@db.internal:5432/app\"\n",
        "MONGO_URI=mongodb+srv://reader:{v}@cluster0.ab1cd.mongodb.net/prod\n",
        "redis_url: redis://:{v}@cache:6379/0\n",
        "engine = create_engine(\"mysql+pymysql://root:{v}@localhost/shop\")\n",
        "BROKER = 'amqp://guest:{v}@rabbit:5672//'\n",
        "jdbc:postgresql://db:5432/app?user=app&password={v}&ssl=true\n",
    ]
    cases = []
    for i, t in enumerate(templates + conn):
        v = f.password()
        cases.append(_case(f"password-{i}", t.format(v=v), ("password", v)))
    # Known misses: a password glued to a CLI flag, and one inside XML.
    v = f.password()
    cases.append(_case("password-cli-flag", f"mysql -u root -p{v} shop\n", ("password", v)))
    v = f.password()
    cases.append(_case("password-xml", f"<password>{v}</password>\n", ("password", v)))
    cases.append(_case("password-passphrase", "password = \"correct horse battery staple\"\n",
                       ("password", "correct horse battery staple")))
    negatives = [
        ("environ", "password = os.environ[\"PASSWORD\"]\n"),
        ("getenv", "DB_PASSWORD = os.getenv(\"DB_PASSWORD\", \"\")\n"),
        ("empty", "password = \"\"\n"),
        ("none", "password=None\n"),
        ("annotation", "def login(user: str, password: str) -> bool:\n"),
        ("getpass", "password = getpass.getpass(\"Password: \")\n"),
        ("same-name", "client = Client(user=user, password=password)\n"),
        ("attribute", "self.password = password\n"),
        ("template-env", "PASSWORD: ${DB_PASSWORD}\n"),
        ("jinja", "password: \"{{ vault_db_password }}\"\n"),
        ("angle", "password = \"<your-password>\"\n"),
        ("mask", "password = \"********\"\n"),
        ("xxxx", "PASSWORD=xxxxxxxx\n"),
        ("word", "password: password\n"),
        ("label", "password_label = \"Enter your password\"\n"),
        ("field", "password = forms.CharField(widget=forms.PasswordInput)\n"),
        ("conn-placeholder", "url = \"postgres://user:password@localhost/db\"\n"),
        ("conn-env", "url = f\"postgres://{user}:{pw}@{host}/db\"\n"),
        ("conn-no-password", "url = \"https://jane@git.company.com/repo.git\"\n"),
        ("prose", "# First pass: determine the maximum length\n"),
        ("bypass", "bypass = \"cache\"\n"),
        ("check", "assert not user.check_password(\"wrong\")\n"),
        ("input-type", "<input type=\"password\" name=\"password\">\n"),
        ("bool", "require_password: true\n"),
        ("prompt", "password = input(\"Password: \")\n"),
        ("i18n-es", "{\"username\": \"Usuario\", \"password\": \"Contraseña\"}\n"),
        ("i18n-de", "login:\n  password: Passwort\n"),
        ("i18n-fr", "\"password\": \"Mot de passe\",\n"),
    ]
    return cases + [_neg(n, t) for n, t in negatives]


def _pem(f: _Fake, kind: str, lines: int = 12) -> str:
    body = "\n".join(f.b64(64) for _ in range(lines)) + "\n" + f.b64(24) + "="
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


def _private_key_cases(f: _Fake) -> list[Case]:
    cases = []
    for i, kind in enumerate(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY",
                              "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
                              "PGP PRIVATE KEY BLOCK"]):
        block = _pem(f, kind, lines=3 + 2 * i)
        cases.append(_case(f"pem-{i}", f"KEY = \"\"\"{block}\n\"\"\"\n", ("private_key", block)))
    block = _pem(f, "PRIVATE KEY", lines=4)
    escaped = block.replace("\n", "\\n")
    cases.append(_case("pem-json", f"{{\"type\": \"service_account\", \"private_key\": \"{escaped}\\n\"}}\n",
                       ("private_key", escaped)))
    block = _pem(f, "RSA PRIVATE KEY", lines=5)
    truncated = block[:block.index("-----END")].rstrip("\n")
    cases.append(_case("pem-truncated", f"Here is the key:\n{truncated}\n", ("private_key", truncated)))
    negatives = [
        ("public-key", _pem(f, "PUBLIC KEY") + "\n"),
        ("certificate", _pem(f, "CERTIFICATE") + "\n"),
        ("placeholder-dots", "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n"),
        ("placeholder-text",
         "-----BEGIN PRIVATE KEY-----\n<your private key here>\n-----END PRIVATE KEY-----\n"),
        ("header-check", "if pem.startswith(\"-----BEGIN RSA PRIVATE KEY-----\"):\n    load(pem)\n"),
        ("ssh-public", f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{f.b64(43)} jane@laptop\n"),
    ]
    return cases + [_neg(n, t) for n, t in negatives]


def _mixed_cases(f: _Fake) -> list[Case]:
    e, ip, pw, key = f.email(), f.ipv4(), f.password(), f.github()
    text = (f"# maintainer: {e}\nSERVER = \"{ip}\"\nDB_PASSWORD = \"{pw}\"\n"
            f"GITHUB_TOKEN = \"{key}\"\nLOCAL = \"127.0.0.1\"\n")
    pw2, ip2 = f.password(), f.ipv4()
    url = f"postgres://admin:{pw2}@{ip2}:5432/prod"
    return [
        _case("mixed-config", text, ("email", e), ("ip_address", ip), ("password", pw), ("key", key)),
        _case("mixed-conn-ip", f"DSN = \"{url}\"\n", ("password", pw2), ("ip_address", ip2)),
    ]


def build_cases(seed: int = SEED) -> list[Case]:
    f = _Fake(seed)
    return (_email_cases(f) + _ip_cases(f) + _key_cases(f) + _password_cases(f)
            + _private_key_cases(f) + _mixed_cases(f))


CASES: list[Case] = build_cases()


@dataclass(frozen=True)
class Score:
    tp: int
    n_pred: int
    n_gold: int

    @property
    def precision(self) -> float:
        return self.tp / self.n_pred if self.n_pred else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_gold if self.n_gold else 1.0


def score(cases: list[Case], predict) -> dict[str, Score]:
    """Per-kind precision/recall of `predict(text) -> [(kind, start, end), ...]`.

    A prediction is a true positive when it has the gold span's kind and overlaps it
    (each gold span and each prediction counted once), as span-level PII evaluations
    usually score partial matches of the right entity."""
    counts: dict[str, list[int]] = {}
    for case in cases:
        preds = list(predict(case.text))
        used: set[int] = set()
        for kind, start, end in case.gold:
            hit = next((i for i, (k, s, e) in enumerate(preds)
                        if i not in used and k == kind and s < end and start < e), None)
            c = counts.setdefault(kind, [0, 0, 0])
            c[2] += 1
            if hit is not None:
                used.add(hit)
                c[0] += 1
        for kind, _, _ in preds:
            counts.setdefault(kind, [0, 0, 0])[1] += 1
    return {k: Score(*v) for k, v in sorted(counts.items())}
