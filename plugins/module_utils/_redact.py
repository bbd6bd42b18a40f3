# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Remove secrets from evidence before it leaves the host: nested structures, log text and ``postconf -n`` output.

A secret is masked in every form in which it can appear in SMTP evidence:

* the plain text;
* the base64 forms of the AUTH payloads (``base64(password)`` for LOGIN, ``base64("\\0user\\0password")`` for PLAIN),
  as :func:`build_secrets` computes them;
* the *base64 fragments* of the password: the part of the base64 text that depends only on the password, for each of
  the three byte alignments. Any base64 text that contains the password (whatever user name precedes it) contains one
  of them, so a PLAIN payload for a user name nobody told us about is still found;
* the *encoded forms* of the password (:func:`encoded_forms`): URL-encoded (``quote`` and ``quote_plus`` with the safe
  sets that common encoders use, hex digits in upper and lower case), JSON-escaped (``\\uXXXX`` for non-ASCII, in both
  cases, ``\\/``), and HTML-escaped, as they appear in URLs, registered JSON results and HTML pages; and each of those
  once more JSON- and HTML-escaped, as ``evidence.json`` and ``report.html`` would write them.

:func:`secret_forms` is the one place that builds this set: the redaction, the report and the leak scan of the support
bundle all use it. (:func:`build_secrets` gives the wire forms.)

Besides the known secrets, values of keys that look like secrets (``password``, ``secret``, ``token``...) are masked,
``postconf`` parameters whose value carries credentials inline (``static:``, ``inline:`` maps, ``*password*``) are
masked, and SMTP AUTH payloads in log lines are masked even when the secret is unknown.
"""

from __future__ import annotations

import base64
import html
import json
import re
import typing as t
from urllib.parse import quote, quote_plus

__all__ = [
    "MASK",
    "MIN_FRAGMENT_LENGTH",
    "Redactor",
    "base64_fragments",
    "build_secrets",
    "encoded_forms",
    "find_secrets",
    "is_secret_key",
    "redact",
    "redact_auth_lines",
    "redact_postconf",
    "secret_forms",
]

# What every secret is replaced with, in every result, transcript, diff and file the collection writes.
MASK = "********"

# A base64 fragment shorter than this could match innocent text; shorter fragments are not used.
MIN_FRAGMENT_LENGTH = 6

_SECRET_KEY_RE = re.compile(
    r"(?:^|[_\-.])(?:pass(?:word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|key[_-]?secret|credentials?|auth[_-]?data)(?:$|[_\-.])"
    r"|^(?:pass(?:word|wd)?|secret|token)$",
    re.IGNORECASE,
)
# Keys whose value is the name of a secret or a file path, not the secret itself.
_NOT_SECRET_KEY_RE = re.compile(r"(?:_maps?|_file|_path|_name|_mechanism|_filter|_options|_length|_enable|_auth_enable|_type)$", re.IGNORECASE)

# SMTP AUTH with an initial response: "AUTH PLAIN <base64>" (client side of a transcript or a Postfix debug log).
_AUTH_LINE_RE = re.compile(
    r"(\bAUTH\s+(?:PLAIN|LOGIN|CRAM-MD5|XOAUTH2|OAUTHBEARER|SCRAM-SHA-\d+(?:-PLUS)?|DIGEST-MD5)\b)[ \t]+"
    r"(?!(?:PLAIN|LOGIN|CRAM-MD5|XOAUTH2?|OAUTHBEARER|GSSAPI|NTLM|DIGEST-MD5|SCRAM-SHA-\S+|ANONYMOUS|EXTERNAL)(?:[\s\"',\]]|$))[^\s\"'\\]+",
    re.IGNORECASE,
)
# A server challenge "334 ..." (the next client line is a credential).
_CHALLENGE_RE = re.compile(r"(?:^|[\s\"'>-])334[ -]")
# A line whose payload is a base64 blob (optionally quoted, with a literal \r\n as in the GHES unicorn log).
_B64_PAYLOAD_RE = re.compile(r"^(?P<prefix>.*?(?:<-|->|>|<|:)?\s*\"?)(?P<payload>[A-Za-z0-9+/]{4,}={0,2})(?P<suffix>(?:\\r\\n)?\"?\s*)$")
# A server reply line (not a client payload).
_REPLY_RE = re.compile(r"(?:^|[\s\"'])[2-5]\d\d[ -]\S")
# postconf parameters whose value embeds credentials in a map.
_INLINE_MAP_RE = re.compile(r"\b(static|inline|texthash|randmap|pipemap|unionmap):\s*(\{.*\}|\S+)", re.IGNORECASE)


def build_secrets(username: str | None, password: str | None) -> list[str]:
    """Every form in which the password can appear on the wire: plain, base64 of PLAIN and LOGIN payloads."""
    if not password:
        return []
    user = username or ""
    forms = {
        password,
        _b64(password.encode("utf-8")),
        _b64(f"\0{user}\0{password}".encode()),
        _b64(f"{user}\0{user}\0{password}".encode()),
    }
    return sorted((f for f in forms if f), key=len, reverse=True)


def redact(value: t.Any, secrets: t.Sequence[str]) -> t.Any:
    """Replace every secret (in any of its forms) in strings nested in dicts, lists and tuples."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {redact(k, secrets): redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, secrets) for v in value)
    return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def base64_fragments(secret: str, *, min_length: int = MIN_FRAGMENT_LENGTH) -> list[str]:
    """The base64 characters that depend only on the secret, for the three alignments of the secret in the input.

    For an alignment of ``k`` bytes before the secret, the characters from ``ceil(8k/6)`` up to (excluding)
    ``floor(8(k+n)/6)`` encode bits of the secret only, so they appear in the base64 of any text that contains the
    secret at that alignment.
    """
    raw = secret.encode("utf-8")
    if not raw:
        return []
    fragments = []
    for k in range(3):
        encoded = _b64(b"\0" * k + raw)
        start = -(-8 * k // 6)
        end = (8 * (k + len(raw))) // 6
        fragment = encoded[start:end]
        if len(fragment) >= min_length:
            fragments.append(fragment)
    return fragments


# The characters that common URL encoders leave alone besides letters, digits and "_.-~": urllib's quote(),
# quote(safe="/"), JavaScript's encodeURIComponent, and the sub-delimiters that RFC 3986 allows in user info.
_URL_SAFE_SETS = ("", "/", "!'()*", "!$&'()*+,;=")
_PERCENT_RE = re.compile(r"%[0-9A-F]{2}")
_JSON_U_RE = re.compile(r"\\u([0-9a-f]{4})")


def _url_forms(secret: str) -> set[str]:
    forms = set()
    for safe in _URL_SAFE_SETS:
        for encoded in (quote(secret, safe=safe), quote_plus(secret, safe=safe)):
            forms.add(encoded)
            forms.add(_PERCENT_RE.sub(lambda m: m.group(0).lower(), encoded))
    return forms


def _json_forms(secret: str) -> set[str]:
    forms = set()
    for ensure_ascii in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1]
        forms.add(escaped)
        forms.add(escaped.replace("/", "\\/"))
        # Go and others escape <, > and & in JSON; some write the hex digits of \u in upper case
        forms.add(escaped.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    forms.update({_JSON_U_RE.sub(lambda m: "\\u" + m.group(1).upper(), form) for form in forms})
    return forms


def _html_forms(secret: str) -> set[str]:
    quoted = html.escape(secret, quote=True)
    return {quoted, html.escape(secret, quote=False), quoted.replace("&#x27;", "&#39;").replace("&quot;", "&#34;")}


def encoded_forms(secret: str) -> set[str]:
    """The forms of ``secret`` in URLs, JSON and HTML, and each of them once more JSON- and HTML-escaped.

    The plain secret is one of them. The second layer is what the bundle's ``evidence.json`` and ``report.html`` write
    for an encoded form in the evidence (``p\\u00e9ss`` becomes ``p\\\\u00e9ss`` in JSON).
    """
    if not secret:
        return set()
    first = {secret} | _url_forms(secret) | _json_forms(secret) | _html_forms(secret)
    second = set()
    for form in first:
        second.add(json.dumps(form)[1:-1])
        second.add(html.escape(form, quote=True))
    return {form for form in first | second if form}


def secret_forms(secrets: t.Iterable[str | None], usernames: t.Iterable[str | None] = ()) -> list[str]:
    """Every form of every secret, longest first: the wire forms of :func:`_smtp.build_secrets` (plain, base64 AUTH
    payloads), the base64 fragments, and the URL-, JSON- and HTML-encoded forms of :func:`encoded_forms`.

    This is the one function that decides what a secret looks like in evidence; redaction and leak scans use it.
    """
    forms: set[str] = set()
    users = [u for u in usernames if u] or [None]
    for value in secrets:
        if not value:
            continue
        secret = str(value)
        for user in users:
            forms.update(build_secrets(user, secret))
        forms.update(base64_fragments(secret))
        forms.update(encoded_forms(secret))
    return sorted(forms, key=lambda f: (-len(f), f))


def is_secret_key(key: t.Any) -> bool:
    """Whether a dictionary key names a secret value (``password``, ``smtp_password``, ``key_secret``, ``token``...)."""
    if not isinstance(key, str):
        return False
    if _NOT_SECRET_KEY_RE.search(key):
        return False
    return bool(_SECRET_KEY_RE.search(key))


def redact_auth_lines(text: str) -> str:
    """Mask SMTP AUTH payloads in log or transcript text, also when the secret itself is not known.

    ``AUTH PLAIN <payload>`` keeps the mechanism; a base64-only line right after a ``334`` challenge is masked.
    """
    if not text:
        return text
    out = []
    after_challenge = False
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        masked = _AUTH_LINE_RE.sub(lambda m: f"{m.group(1)} {MASK}", body)
        is_challenge = bool(_CHALLENGE_RE.search(body))
        if masked == body and after_challenge and not is_challenge and not _REPLY_RE.search(body):
            match = _B64_PAYLOAD_RE.match(body)
            if match and len(match.group("payload")) % 4 == 0:
                masked = f"{match.group('prefix')}{MASK}{match.group('suffix')}"
        after_challenge = is_challenge
        out.append(masked + ending)
    return "".join(out)


def redact_postconf(text: str | t.Sequence[str], forms: t.Sequence[str] = ()) -> str:
    """Redact ``postconf -n`` output (``name = value`` lines).

    Values of parameters named like a password are masked. Maps that carry credentials inline (``static:``,
    ``inline:{...}``, ``texthash:``...) are masked, while lookup tables in files (``hash:/etc/postfix/sasl_passwd``) are
    kept: their contents are never read. Every form of the known secrets is masked as well.
    """
    lines = text.splitlines() if isinstance(text, str) else [str(line) for line in text]
    out = []
    for raw in lines:
        line = raw
        name, sep, value = raw.partition("=")
        name = name.strip()
        if sep and name:
            value = value.strip()
            if "password" in name.lower() and not name.lower().endswith(("_maps", "_map")):
                value = MASK if value else value
            elif value:
                value = _INLINE_MAP_RE.sub(lambda m: f"{m.group(1)}:{MASK}", value)
            line = f"{name} = {value}"
        out.append(line)
    result = "\n".join(out)
    if lines and isinstance(text, str) and text.endswith("\n"):
        result += "\n"
    return redact(result, list(forms)) if forms else result


class Redactor:
    """Redacts nested structures and text for a fixed set of secrets."""

    def __init__(self, secrets: t.Iterable[str | None] = (), usernames: t.Iterable[str | None] = ()) -> None:
        self.forms = secret_forms(secrets, usernames)

    def text(self, value: str) -> str:
        """Mask every form of the secrets and every AUTH payload in a text."""
        value = redact(value, self.forms) if self.forms else value
        return redact_auth_lines(value)

    def value(self, value: t.Any) -> t.Any:
        """Redact a nested structure of dicts, lists, tuples and scalars; values of secret-looking keys become MASK."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            result = {}
            for key, item in value.items():
                new_key = self.text(key) if isinstance(key, str) else key
                if is_secret_key(key) and item not in (None, "", [], {}) and not isinstance(item, bool):
                    result[new_key] = MASK
                else:
                    result[new_key] = self.value(item)
            return result
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(item) for item in value)
        return value

    def postconf(self, text: str | t.Sequence[str]) -> str:
        return redact_postconf(text, self.forms)

    def find(self, data: bytes | str) -> bool:
        """Whether any form of the secrets occurs in the data (belt and braces before anything is written)."""
        return bool(find_secrets(data, self.forms))


def find_secrets(data: bytes | str, forms: t.Sequence[str]) -> list[int]:
    """The indexes (into ``forms``) of the secret forms that occur in data. Never returns the secrets themselves."""
    blob = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")
    found = []
    for index, form in enumerate(forms):
        if form and form.encode("utf-8") in blob:
            found.append(index)
    return found
