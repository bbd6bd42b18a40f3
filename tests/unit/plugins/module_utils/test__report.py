# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._report import ReportError, render_report
from ansible_collections.mailops.notify.plugins.module_utils._verdict import analyze
from ansible_collections.mailops.notify.tests.unit.plugins.module_utils.test__verdict import (
    HOST,
    NFT_CLOSED,
    probe_failed,
    record,
    with_changes,
)

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}


class Checker(HTMLParser):
    """Collects every element and checks that the tags nest properly."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.doctype = ""

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    assert checker.doctype.lower() == "doctype html"
    return checker


def hop_classes(checker: Checker) -> dict[str, str]:
    result = {}
    for tag, attrs in checker.elements:
        if tag == "div" and attrs.get("id", "").startswith("hop-"):
            classes = attrs["class"].split()
            assert classes[0] == "hop"
            result[attrs["id"]] = classes[1]
    return result


def render(evidence: dict) -> tuple[str, Checker]:
    verdict = analyze(evidence)
    page = render_report(verdict.as_dict(), evidence, hostname=HOST, generated_at="2026-11-26T10:00:00+00:00", postconf=evidence.get("postconf", ""))
    return page, parse(page)


def test_all_green_page():
    _page, checker = render(with_changes())
    assert hop_classes(checker) == {
        "hop-outbound-submission": "ok",
        "hop-outbound-relay": "ok",
        "hop-outbound-delivery": "ok",
        "hop-inbound-mx": "ok",
        "hop-inbound-port25": "ok",
        "hop-inbound-maildir": "ok",
    }
    verdict_items = [attrs.get("class") for tag, attrs in checker.elements if tag == "li" and attrs.get("class")]
    assert verdict_items == ["ok", "ok"]
    text = "".join(checker.text)
    assert f"Mail troubleshooting report for {HOST}" in text
    # The DNS table has one column per nameserver and one row per record.
    assert "ns2.example.test (127.0.0.1:5302)" in text and f"reply.{HOST}" in text
    assert "A1B2C3D410" in text and "alice@example.org" in text


def test_broken_hops_are_red_and_the_rest_follows():
    evidence = with_changes(
        smtp_probe=probe_failed("auth", 535, "5.7.8 Error: authentication failed", "auth_failed"),
        firewall__output=NFT_CLOSED,
        dns__records=[record("reply_mx", f"reply.{HOST}", "MX", ("ok", "missing"))],
    )
    _page, checker = render(evidence)
    assert hop_classes(checker) == {
        "hop-outbound-submission": "ok",
        "hop-outbound-relay": "failed",
        "hop-outbound-delivery": "unknown",
        "hop-inbound-mx": "failed",
        "hop-inbound-port25": "failed",
        "hop-inbound-maildir": "unknown",
    }
    cells = [attrs.get("class") for tag, attrs in checker.elements if tag == "td" and attrs.get("class") in ("ok", "missing")]
    assert cells == ["ok", "missing"]
    assert "relay rejects the credentials (535 5.7.8)" in "".join(checker.text)
    assert [attrs.get("class") for tag, attrs in checker.elements if tag == "li" and attrs.get("class")] == ["failed", "failed"]


def test_values_are_escaped():
    evil = '<script>alert("x")</script>'
    evidence = with_changes(
        hostname=evil,
        smtp_probe=probe_failed("auth", 535, f"5.7.8 {evil}", "auth_failed"),
        postconf=f"smtpd_banner = {evil}\n",
    )
    evidence["mail_log"]["messages"][0]["reply"] = evil
    evidence["smtp_probe"]["transcript"].append({"dir": "<-", "text": evil})
    verdict = analyze(evidence)
    page = render_report(verdict.as_dict(), evidence, hostname=evil, generated_at=evil, postconf=evidence["postconf"])
    checker = parse(page)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert evil in "".join(checker.text)
    assert not [tag for tag, _attrs in checker.elements if tag in ("script", "iframe", "object", "embed")]


def test_self_contained():
    page, checker = render(with_changes())
    for tag, attrs in checker.elements:
        for name in ("src", "href", "action", "data"):
            assert name not in attrs, (tag, attrs)
    assert not re.search(r"url\(|@import|https?://", page.split("<body>", maxsplit=1)[0])
    assert [tag for tag, _attrs in checker.elements if tag == "style"] == ["style"]
    assert not [tag for tag, _attrs in checker.elements if tag in ("script", "link", "img")]


def test_missing_evidence_renders_placeholders():
    verdict = analyze({}, HOST)
    page = render_report(verdict.as_dict(), {}, hostname=HOST)
    checker = parse(page)
    text = "".join(checker.text)
    for phrase in ("DNS was not verified.", "The Postfix log was not read.", "The relay was not probed.", "postconf was not read."):
        assert phrase in text
    assert set(hop_classes(checker).values()) == {"unknown"}


def test_bad_input():
    with pytest.raises(ReportError):
        render_report([], {})
