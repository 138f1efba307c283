"""Generated secrets never leave the server: unit rules and through the real API.

    python -m pytest tests/serve/test_scrub.py -q
"""

from __future__ import annotations

import httpx
import openai
import pytest

from codecommons.serve.app import ServeOptions
from codecommons.pii.scrub import Scrubber
from tests.serve.live import ScriptedEngine, running_server

# Fake but realistically shaped credentials, built from parts so this file itself
# does not look like a leak to scanners.
AWS = "AKIA" + "J7QZ5Y2W8RXK3VHD"
GITHUB = "ghp_" + "8fK2mQ9xR4tV7wZ1cB5nJ3hL6pD0sA9eU2yT"
PEM = ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(
    "MIIEowIBAAKCAQEA7d9Q2vXz" + str(i) * 40 for i in range(6)) + "\n-----END RSA PRIVATE KEY-----\n")


def scrub_pieces(pieces, kinds=("key", "password", "private_key")):
    s = Scrubber(kinds)
    sent = [s.feed(p) for p in pieces] + [s.finish()]
    return "".join(sent), sent, s.counts


def test_key_split_across_tokens_is_redacted_and_never_partly_sent():
    text = f'client = boto3.client("s3", aws_access_key_id="{AWS}")\nprint(client)\n'
    pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
    out, sent, counts = scrub_pieces(pieces)
    assert AWS not in out and "<KEY>" in out and counts["key"] == 1
    assert not any(AWS[:8] in s for s in sent)


def test_private_key_block_held_until_closed():
    out, sent, counts = scrub_pieces([PEM[i:i + 10] for i in range(0, len(PEM), 10)])
    assert "MIIEowIBAAKCAQEA" not in out and counts["private_key"] == 1


def test_password_assignment_and_plain_code():
    out, _, counts = scrub_pieces(['db_password = "Tr0ub4dor&3-zebra"\n', "x = compute(1)\n"])
    assert "Tr0ub4dor" not in out and "x = compute(1)" in out and counts["password"] == 1


def test_kinds_are_configurable():
    out, _, _ = scrub_pieces([f'TOKEN = "{GITHUB}"\n'], kinds=())
    assert GITHUB in out


LEAK = f'import os\nGITHUB_TOKEN = "{GITHUB}"\nAWS_KEY = "{AWS}"\n'


@pytest.mark.parametrize("stream", [False, True])
def test_no_generated_key_leaves_the_server(gguf_engine, stream):
    with running_server(ScriptedEngine(gguf_engine, LEAK)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        if stream:
            text = "".join(c.choices[0].text for c in client.completions.create(
                model="", prompt="# config\n", max_tokens=64, stream=True))
            chat = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
                model="", messages=[{"role": "user", "content": "token?"}], stream=True)
                if c.choices)
        else:
            text = client.completions.create(model="", prompt="# config\n", max_tokens=64,
                                              echo=True).choices[0].text
            chat = client.chat.completions.create(
                model="", messages=[{"role": "user", "content": "token?"}]).choices[0].message.content
        tgi = httpx.post(url + "/generate", json={"inputs": "# config\n"}).json()["generated_text"]
        for out in (text, chat, tgi):
            assert GITHUB not in out and AWS not in out and out.count("<KEY>") == 2
        assert 'commons_scrubbed_secrets_total{kind="key"}' in httpx.get(url + "/metrics").text


def test_prompt_is_never_altered(gguf_engine):
    prompt = f'# my key: {AWS}\n'
    with running_server(ScriptedEngine(gguf_engine, "x = 1\n")) as url:
        r = httpx.post(url + "/v1/completions", json={"prompt": prompt, "max_tokens": 8,
                                                      "echo": True})
        assert r.json()["choices"][0]["text"].startswith(prompt)


def test_scrubbing_can_be_turned_off(gguf_engine):
    with running_server(ScriptedEngine(gguf_engine, LEAK), ServeOptions(scrub_kinds=())) as url:
        r = httpx.post(url + "/v1/completions", json={"prompt": "x", "max_tokens": 64})
        assert GITHUB in r.json()["choices"][0]["text"]
