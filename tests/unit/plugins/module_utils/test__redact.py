# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import html
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._redact import (
    MASK,
    Redactor,
    base64_fragments,
    encoded_forms,
    find_secrets,
    is_secret_key,
    redact_auth_lines,
    redact_postconf,
    secret_forms,
)

PASSWORD = "S3cr3t-Pa55w0rd!xyz"
USER = "alerts@example.test"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Every way the password can appear in SMTP evidence, including a PLAIN payload for a user name nobody told us about.
FORMS = [
    PASSWORD,
    b64(PASSWORD),
    b64(f"\0{USER}\0{PASSWORD}"),
    b64(f"{USER}\0{USER}\0{PASSWORD}"),
    b64(f"\0someone-else@example.org\0{PASSWORD}"),
    b64(f"\0ab\0{PASSWORD}"),
    b64(f"\0abc\0{PASSWORD}"),
]


@pytest.mark.parametrize("form", FORMS)
def test_every_form_is_found_and_masked_in_nested_structures(form):
    redactor = Redactor([PASSWORD])
    data = {
        "smtp_probe": {"transcript": [{"dir": "->", "text": f"AUTH PLAIN {form}"}, {"dir": "->", "text": form}]},
        "list": [("tuple", form), {"deep": [f"prefix {form} suffix"]}],
        form: "secret as a key",
    }
    assert redactor.find(json.dumps(data))
    redacted = redactor.value(data)
    text = json.dumps(redacted)
    assert not redactor.find(text)
    for other in FORMS:
        assert other not in text
    assert MASK in text
    assert redacted["list"][0][0] == "tuple" and isinstance(redacted["list"][0], tuple)


@pytest.mark.parametrize("form", FORMS)
def test_every_form_is_masked_in_text(form):
    redactor = Redactor([PASSWORD])
    text = f"Nov 26 09:20:01 appliance postfix/smtp[2108]: > relay:587: {form}\nnext line\n"
    masked = redactor.text(text)
    assert form not in masked and PASSWORD not in masked
    assert masked.endswith("next line\n")


@pytest.mark.parametrize(
    ("secret", "prefix_len"),
    [("abcdef", 0), ("abcdef", 1), ("abcdef", 2), ("pässwörd-ünïcode", 1), (PASSWORD, 2)],
)
def test_base64_fragments_cover_every_alignment(secret, prefix_len):
    fragments = base64_fragments(secret)
    for prefix in ("\0" * prefix_len, "x" * prefix_len + "\0user\0", "\0\0"):
        encoded = base64.b64encode(prefix.encode() + secret.encode()).decode()
        assert any(f in encoded for f in fragments), (prefix, encoded, fragments)


def test_short_secret_has_no_fragments_but_its_plain_forms():
    assert base64_fragments("ab") == []
    forms = secret_forms(["ab"])
    assert "ab" in forms and b64("ab") in forms


def test_secret_forms_longest_first_and_skip_empty():
    forms = secret_forms([PASSWORD, None, ""], usernames=[USER])
    assert forms == sorted(forms, key=lambda f: (-len(f), f))
    assert b64(f"\0{USER}\0{PASSWORD}") in forms and PASSWORD in forms
    assert secret_forms([None, ""]) == []


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("smtp_password", True),
        ("key_secret", True),
        ("api_key", True),
        ("token", True),
        ("SMTPPassword", False),  # camel case without separator is caught by the secret forms instead
        ("smtp_sasl_password_maps", False),
        ("password_file", False),
        ("key_name", False),
        ("username", False),
        ("tokens_used", False),
        (5, False),
    ],
)
def test_is_secret_key(key, secret):
    assert is_secret_key(key) is secret


def test_secret_keys_are_masked_even_without_known_secrets():
    redacted = Redactor().value({"password": "hunter2", "relay": {"smtp_password": "x", "username": "u"}, "enabled": True, "empty_password": ""})
    assert redacted == {"password": MASK, "relay": {"smtp_password": MASK, "username": "u"}, "enabled": True, "empty_password": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-> AUTH PLAIN AGFsZXJ0cwBodW50ZXIy", f"-> AUTH PLAIN {MASK}"),
        ("smtp[1]: > relay[10.0.0.2]:587: AUTH LOGIN dXNlcg==", f"smtp[1]: > relay[10.0.0.2]:587: AUTH LOGIN {MASK}"),
        ("250-AUTH LOGIN PLAIN XOAUTH", "250-AUTH LOGIN PLAIN XOAUTH"),
        ("AUTH PLAIN LOGIN", "AUTH PLAIN LOGIN"),
        ("-> AUTH PLAIN ********", f"-> AUTH PLAIN {MASK}"),
        (
            # The GHES unicorn log: LOGIN payloads follow the 334 challenges, the reply lines stay.
            '-> "334 VXNlcm5hbWU6\\r\\n"\n<- "dGhpc2lzbXlAYWRkcmVzcy5jb20=\\r\\n"\n-> "334 UGFzc3dvcmQ6\\r\\n"\n'
            '<- "aXRyZWFsbHl3YXM=\\r\\n"\n-> "535-5.7.1 Username and Password not accepted. Learn more at\\r\\n"\n',
            f'-> "334 VXNlcm5hbWU6\\r\\n"\n<- "{MASK}\\r\\n"\n-> "334 UGFzc3dvcmQ6\\r\\n"\n'
            f'<- "{MASK}\\r\\n"\n-> "535-5.7.1 Username and Password not accepted. Learn more at\\r\\n"\n',
        ),
        ("<- 334 \n<- 235 2.7.0 Authentication successful", "<- 334 \n<- 235 2.7.0 Authentication successful"),
        ("", ""),
    ],
)
def test_redact_auth_lines(text, expected):
    assert redact_auth_lines(text) == expected


def test_redact_postconf():
    text = (
        "relayhost = [smtp.example.com]:587\n"
        "smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd\n"
        "smtp_sasl_auth_enable = yes\n"
        "sender_dependent_relayhost_maps = static:[other]:587\n"
        "smtp_sasl_password_maps = inline:{ [smtp.example.com]:587=alerts:hunter2 }\n"
        "lmtp_sasl_password_maps = static:alerts:hunter2\n"
        "my_password = hunter2\n"
        f"smtpd_banner = $myhostname {PASSWORD}\n"
    )
    result = redact_postconf(text, secret_forms([PASSWORD]))
    assert result.splitlines() == [
        "relayhost = [smtp.example.com]:587",
        "smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd",
        "smtp_sasl_auth_enable = yes",
        f"sender_dependent_relayhost_maps = static:{MASK}",
        f"smtp_sasl_password_maps = inline:{MASK}",
        f"lmtp_sasl_password_maps = static:{MASK}",
        f"my_password = {MASK}",
        f"smtpd_banner = $myhostname {MASK}",
    ]
    assert "hunter2" not in result and result.endswith("\n")
    assert redact_postconf(["a = b"]) == "a = b"


def test_find_secrets_returns_indexes_not_secrets():
    forms = secret_forms([PASSWORD])
    found = find_secrets(b"xx" + b64(PASSWORD).encode() + b"yy", forms)
    assert found and all(isinstance(i, int) for i in found)
    assert find_secrets("nothing here", forms) == []


# --------------------------------------------------------------------------------------------------
# URL-, JSON- and HTML-encoded forms

ODD = "p@ss wörd/<x>&\"y'z\\é"


def _encodings(secret: str) -> dict[str, str]:
    """Each encoding the finding names, computed with the standard library as a gatherer would."""
    return {
        "quote": quote(secret, safe=""),
        "quote default": quote(secret),
        "quote_plus": quote_plus(secret),
        "quote lower hex": re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
        "encodeURIComponent": quote(secret, safe="!~*'()"),
        "json": json.dumps(secret)[1:-1],
        "json unicode": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json in json": json.dumps(json.dumps(secret)[1:-1])[1:-1],
        "html": html.escape(secret),
        "html unquoted": html.escape(secret, quote=False),
        "html of json": html.escape(json.dumps(secret)[1:-1]),
        "json of html": json.dumps(html.escape(secret))[1:-1],
    }


@pytest.mark.parametrize("secret", ["p@ss", ODD, PASSWORD])
@pytest.mark.parametrize("encoding", list(_encodings("x")))
def test_encoded_forms_are_found_and_masked(secret, encoding):
    form = _encodings(secret)[encoding]
    assert form in secret_forms([secret])
    redactor = Redactor([secret])
    text = f"relay url smtp://u:{form}@relay.example.test/ and more"
    assert redactor.find(text)
    masked = redactor.text(text)
    assert masked == f"relay url smtp://u:{MASK}@relay.example.test/ and more"
    assert not redactor.find(masked)
    nested = redactor.value({"note": [text], "json": json.dumps({"k": text})})
    for other in _encodings(secret).values():
        assert other not in json.dumps(nested) and other not in json.dumps(nested, ensure_ascii=False)


def test_quote_plus_space_form():
    assert "p%40s+s" in encoded_forms("p@s s")
    assert Redactor(["p@s s"]).text("pw=p%40s+s&x=1") == f"pw={MASK}&x=1"


def test_encoded_forms_of_an_empty_secret():
    assert encoded_forms("") == set()
    assert secret_forms([""]) == []


def test_non_ascii_json_escapes_in_both_cases():
    forms = encoded_forms("é")
    assert {"\\u00e9", "\\u00E9", "é", "%C3%A9", "%c3%a9"} <= forms
