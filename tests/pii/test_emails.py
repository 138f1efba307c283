"""The one email grammar (codecommons.pii.emails): what is an address, in text and
as a value, for PII redaction, the opt-out registry and package metadata alike.

    python -m pytest tests/pii/test_emails.py -q
"""

from __future__ import annotations

import pytest

from codecommons.pii.emails import emails_in, find_emails, is_email, normalize_email


@pytest.mark.parametrize("text, found", [
    ("mail jane.doe@corp-mail.com now", ["jane.doe@corp-mail.com"]),
    ("<w_zhang42@cs.stanford.edu>.", ["w_zhang42@cs.stanford.edu"]),
    ("...jane@x.org and (.bob@y.org)", ["jane@x.org", "bob@y.org"]),
    ("lodash@4.17.21 @decorator a@b.T x@y icon@2x", []),
    ("x@y.com_z", []),  # runs on into a word
])
def test_find(text, found):
    assert [text[s:e] for s, e in find_emails(text)] == found


@pytest.mark.parametrize("raw, value", [
    ("Jane.Doe@Example.ORG", "jane.doe@example.org"),
    ("Jane Doe <jane@example.org>", "jane@example.org"),
    (" mailto:jane@example.org ", "jane@example.org"),
])
def test_normalize(raw, value):
    assert normalize_email(raw) == value and is_email(value)


@pytest.mark.parametrize("raw", ["", "jane@", "@example.org", "a@b", "jane@example.org bob@example.org",
                                 "Jane <jane@example.org> x"])
def test_not_an_address(raw):
    with pytest.raises(ValueError, match="not an email address"):
        normalize_email(raw)


def test_emails_in_author_fields():
    assert emails_in('"Jason R. Coombs" <jaraco@jaraco.com>, Bob <BOB@x.org>') == {
        "jaraco@jaraco.com", "bob@x.org"}
    assert emails_in(["a@b.org", None, 3]) == {"a@b.org"} and emails_in(None) == set()
