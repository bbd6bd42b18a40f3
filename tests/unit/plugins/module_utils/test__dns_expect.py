# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._dns_expect import (
    Answer,
    ConflictError,
    DnsExpectError,
    InvalidOptionError,
    Operation,
    build_expected,
    check_options,
    compare,
    evaluate,
    needed_queries,
    normalize_name,
    parse_server,
    plan_updates,
    render_operation,
    render_table,
    render_zone_snippet,
    split_addresses,
)

H = "ghe.example.com"


def _summary(expected):
    return [(e.key, e.name, e.rtype, e.values, e.kind) for e in expected]


@pytest.mark.parametrize(
    ("kwargs", "summary"),
    [
        (
            {"addresses": ["192.0.2.10"]},
            [
                ("reply_a", "reply.ghe.example.com", "A", ("192.0.2.10",), "rrset"),
                ("reply_mx", "reply.ghe.example.com", "MX", ("10 reply.ghe.example.com.",), "rrset"),
                ("noreply_mx", "noreply.ghe.example.com", "MX", ("10 ghe.example.com.",), "rrset"),
                ("host_address", "ghe.example.com", "A/AAAA", ("192.0.2.10",), "host"),
            ],
        ),
        (
            {"addresses": ["2001:DB8:0::10", "192.0.2.10", "192.0.2.9", "192.0.2.10"], "reply_record": "wildcard", "mx_priority": 5},
            [
                ("wildcard_a", "*.ghe.example.com", "A", ("192.0.2.9", "192.0.2.10"), "rrset"),
                ("wildcard_aaaa", "*.ghe.example.com", "AAAA", ("2001:db8::10",), "rrset"),
                ("reply_a", "reply.ghe.example.com", "A", ("192.0.2.9", "192.0.2.10"), "rrset"),
                ("reply_aaaa", "reply.ghe.example.com", "AAAA", ("2001:db8::10",), "rrset"),
                ("reply_mx", "reply.ghe.example.com", "MX", ("5 reply.ghe.example.com.",), "rrset"),
                ("noreply_mx", "noreply.ghe.example.com", "MX", ("5 ghe.example.com.",), "rrset"),
                ("host_address", "ghe.example.com", "A/AAAA", ("192.0.2.9", "192.0.2.10", "2001:db8::10"), "host"),
            ],
        ),
        (
            {"addresses": ["2001:db8::10"], "spf": {"value": "v=spf1  mx   -all"}, "dmarc": {"domain": "Example.COM.", "value": "v=DMARC1; p=none"}},
            [
                ("reply_aaaa", "reply.ghe.example.com", "AAAA", ("2001:db8::10",), "rrset"),
                ("reply_mx", "reply.ghe.example.com", "MX", ("10 reply.ghe.example.com.",), "rrset"),
                ("noreply_mx", "noreply.ghe.example.com", "MX", ("10 ghe.example.com.",), "rrset"),
                ("host_address", "ghe.example.com", "A/AAAA", ("2001:db8::10",), "host"),
                ("spf", "ghe.example.com", "TXT", ("v=spf1 mx -all",), "txt"),
                ("dmarc", "_dmarc.example.com", "TXT", ("v=DMARC1; p=none",), "txt"),
            ],
        ),
    ],
    ids=["a-ipv4", "wildcard-dualstack", "spf-dmarc"],
)
def test_build_expected(kwargs, summary):
    addresses = kwargs.pop("addresses")
    assert _summary(build_expected("GHE.Example.com.", addresses, **kwargs)) == summary


@pytest.mark.parametrize(
    ("hostname", "addresses", "kwargs", "message"),
    [
        ("192.0.2.1", ["192.0.2.1"], {}, "not an IP address"),
        ("", ["192.0.2.1"], {}, "non-empty"),
        ("bad..name", ["192.0.2.1"], {}, "empty label"),
        ("-bad.example.com", ["192.0.2.1"], {}, "not a valid host name"),
        ("a" * 64 + ".example.com", ["192.0.2.1"], {}, "longer than 63"),
        (H, [], {}, "at least one"),
        (H, ["ghe.example.com"], {}, "not an IPv4 or IPv6 address"),
        (H, ["192.0.2.1"], {"reply_record": "cname"}, "reply_record"),
        (H, ["192.0.2.1"], {"ttl": -1}, "ttl"),
        (H, ["192.0.2.1"], {"mx_priority": 70000}, "mx_priority"),
        (H, ["192.0.2.1"], {"spf": {"value": "include:x ~all"}}, "must start with 'v=spf1'"),
        (H, ["192.0.2.1"], {"dmarc": {"value": 'v=DMARC1; p="none"'}}, "quotes"),
        (H, ["192.0.2.1"], {"spf": {"value": "  "}}, "non-empty string"),
    ],
)
def test_build_expected_rejects(hostname, addresses, kwargs, message):
    with pytest.raises(InvalidOptionError, match=message):
        build_expected(hostname, addresses, **kwargs)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Ghe.Example.COM.", "ghe.example.com"), ("bücher.example", "xn--bcher-kva.example"), ("_dmarc.example.com", "_dmarc.example.com")],
)
def test_normalize_name(name, expected):
    assert normalize_name(name) == expected


def test_split_addresses():
    assert split_addresses(["192.0.2.10", "2001:0db8::1", "192.0.2.2"]) == (("192.0.2.2", "192.0.2.10"), ("2001:db8::1",))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("ns1.example.com.", ("ns1.example.com", 53)),
        ("ns1.example.com:1053", ("ns1.example.com", 1053)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("[2001:db8::53]", ("2001:db8::53", 53)),
    ],
)
def test_parse_server(spec, expected):
    assert parse_server(spec, 53) == expected


@pytest.mark.parametrize("spec", ["", "host:0", "host:abc", "[::1", "[::1]5353", ":53", "host:70000"])
def test_parse_server_rejects(spec):
    with pytest.raises(InvalidOptionError):
        parse_server(spec, 53)


# --- comparison -------------------------------------------------------------------------------------

EXP = build_expected(H, ["192.0.2.10"], ttl=300, spf={"value": "v=spf1 mx -all"})
BY_KEY = {e.key: e for e in EXP}
GOOD = {
    ("reply.ghe.example.com", "A"): Answer(("192.0.2.10",), 300),
    ("reply.ghe.example.com", "MX"): Answer(("10 reply.ghe.example.com.",), 300),
    ("noreply.ghe.example.com", "MX"): Answer(("10 ghe.example.com.",), 300),
    ("ghe.example.com", "A"): Answer(("192.0.2.10",), 300),
    ("ghe.example.com", "AAAA"): Answer(),
    ("ghe.example.com", "TXT"): Answer(("google-site-verification=abc", "v=spf1 mx -all"), 300),
}
for _name in ("reply.ghe.example.com", "noreply.ghe.example.com", "ghe.example.com"):
    GOOD[(_name, "CNAME")] = Answer()


def test_needed_queries_are_unique_and_cover_everything():
    queries = needed_queries(EXP)
    assert len(queries) == len(set(queries))
    assert set(queries) == set(GOOD)


@pytest.mark.parametrize(
    ("key", "answers", "status", "message"),
    [
        ("reply_a", GOOD, "ok", ""),
        ("reply_a", {**GOOD, ("reply.ghe.example.com", "A"): Answer()}, "missing", "no A record"),
        ("reply_a", {**GOOD, ("reply.ghe.example.com", "A"): Answer(("192.0.2.99",), 300)}, "wrong", "missing 192.0.2.10; unexpected 192.0.2.99"),
        ("reply_a", {**GOOD, ("reply.ghe.example.com", "A"): Answer(("192.0.2.10",), 600)}, "wrong", "TTL 600, expected 300"),
        ("reply_a", {**GOOD, ("reply.ghe.example.com", "A"): Answer(error="no answer from x within 1s")}, "unreachable", "no answer"),
        ("reply_a", {**GOOD, ("reply.ghe.example.com", "CNAME"): Answer(("elb.example.net.",), 300)}, "wrong", "is a CNAME"),
        ("reply_mx", {**GOOD, ("reply.ghe.example.com", "MX"): Answer(("20 reply.ghe.example.com.",), 300)}, "wrong", "unexpected 20"),
        ("reply_mx", {**GOOD, ("reply.ghe.example.com", "MX"): Answer(("10 REPLY.ghe.example.com.",), 300)}, "ok", ""),
        ("host_address", GOOD, "ok", ""),
        ("host_address", {**GOOD, ("ghe.example.com", "A"): Answer(("198.51.100.1",), 300)}, "ok", "resolves, but not to 192.0.2.10"),
        ("host_address", {**GOOD, ("ghe.example.com", "A"): Answer()}, "missing", "no A or AAAA"),
        ("host_address", {**GOOD, ("ghe.example.com", "CNAME"): Answer(("lb.example.net.",), 60)}, "wrong", "RFC 2181"),
        ("spf", GOOD, "ok", ""),
        ("spf", {**GOOD, ("ghe.example.com", "TXT"): Answer(("v=spf1 -all",), 300)}, "wrong", "different value"),
        ("spf", {**GOOD, ("ghe.example.com", "TXT"): Answer(("v=spf1 -all", "v=spf1 mx -all"), 300)}, "wrong", "exactly one"),
        ("spf", {**GOOD, ("ghe.example.com", "TXT"): Answer(("other",), 300)}, "missing", "starting with v=spf1"),
    ],
)
def test_compare_present(key, answers, status, message):
    result = compare(BY_KEY[key], answers)
    assert result.status == status
    if message:
        assert message in result.message
    else:
        assert result.message == ""


@pytest.mark.parametrize(
    ("key", "answers", "status"),
    [
        ("reply_a", {**GOOD, ("reply.ghe.example.com", "A"): Answer()}, "ok"),
        ("reply_a", {**GOOD, ("reply.ghe.example.com", "A"): Answer(("192.0.2.99",), 300)}, "ok"),
        ("reply_a", GOOD, "wrong"),
        ("spf", GOOD, "wrong"),
        ("spf", {**GOOD, ("ghe.example.com", "TXT"): Answer(("v=spf1 -all",), 300)}, "ok"),
    ],
)
def test_compare_absent(key, answers, status):
    assert compare(BY_KEY[key], answers, "absent").status == status


def test_evaluate_aggregates_per_nameserver():
    stale = {**GOOD, ("reply.ghe.example.com", "MX"): Answer()}
    down = {q: Answer(error="no answer from ns3 within 1s") for q in GOOD}
    report = evaluate(EXP, {"ns1": GOOD, "ns2": stale, "ns3": down})
    by_key = {entry["key"]: entry for entry in report}
    assert by_key["reply_mx"]["status"] == "missing"
    assert [ns["status"] for ns in by_key["reply_mx"]["nameservers"]] == ["ok", "missing", "unreachable"]
    assert by_key["reply_a"]["status"] == "unreachable"
    assert by_key["reply_a"]["nameservers"][0] == {"nameserver": "ns1", "status": "ok", "actual": ["192.0.2.10"], "ttl": 300, "message": ""}
    table = render_table(report)
    assert table.splitlines()[0].split() == ["record", "type", "ns1", "ns2", "ns3"]
    assert ["reply.ghe.example.com", "MX", "ok", "missing", "unreachable"] in [line.split() for line in table.splitlines()]


def test_evaluate_absent_skips_the_host_check():
    report = evaluate(EXP, {"ns1": GOOD}, "absent")
    assert "host_address" not in [entry["key"] for entry in report]
    assert all(entry["expected"] == [] for entry in report)


# --- planning -----------------------------------------------------------------------------------------

EMPTY = {q: Answer() for q in GOOD}


def _ops(answers, state="present", expected=None):
    expected = EXP if expected is None else expected
    return [render_operation(op) for op in plan_updates(expected, answers, state)]


@pytest.mark.parametrize(
    ("answers", "state", "ops"),
    [
        (GOOD, "present", []),
        (
            EMPTY,
            "present",
            [
                "update add reply.ghe.example.com. 300 IN A 192.0.2.10",
                "update add ghe.example.com. 300 IN A 192.0.2.10",
                "update add reply.ghe.example.com. 300 IN MX 10 reply.ghe.example.com.",
                "update add noreply.ghe.example.com. 300 IN MX 10 ghe.example.com.",
                'update add ghe.example.com. 300 IN TXT "v=spf1 mx -all"',
            ],
        ),
        (
            {**GOOD, ("reply.ghe.example.com", "MX"): Answer(("20 mail.example.com.",), 300)},
            "present",
            [
                # the address is re-added because the name is touched: an answer may come from a wildcard
                "update add reply.ghe.example.com. 300 IN A 192.0.2.10",
                "update delete reply.ghe.example.com. IN MX",
                "update add reply.ghe.example.com. 300 IN MX 10 reply.ghe.example.com.",
            ],
        ),
        (
            {**GOOD, ("reply.ghe.example.com", "A"): Answer(("192.0.2.99",), 300), ("ghe.example.com", "TXT"): Answer(("x", "v=spf1 -all"), 300)},
            "present",
            [
                "update delete reply.ghe.example.com. IN A",
                "update add reply.ghe.example.com. 300 IN A 192.0.2.10",
                'update delete ghe.example.com. IN TXT "v=spf1 -all"',
                'update add ghe.example.com. 300 IN TXT "v=spf1 mx -all"',
            ],
        ),
        ({**GOOD, ("ghe.example.com", "A"): Answer(("198.51.100.1",), 300)}, "present", []),
        (EMPTY, "absent", []),
        (
            {**GOOD, ("reply.ghe.example.com", "MX"): Answer(("10 reply.ghe.example.com.", "20 backup.example.net."), 300)},
            "absent",
            [
                "update delete reply.ghe.example.com. IN MX 10 reply.ghe.example.com.",
                "update delete noreply.ghe.example.com. IN MX 10 ghe.example.com.",
                'update delete ghe.example.com. IN TXT "v=spf1 mx -all"',
                "update delete reply.ghe.example.com. IN A 192.0.2.10",
            ],
        ),
    ],
    ids=["unchanged", "from-empty", "wrong-mx", "wrong-a-and-spf", "host-elsewhere-kept", "absent-nothing", "absent-exact"],
)
def test_plan_updates(answers, state, ops):
    assert _ops(answers, state) == ops


def test_plan_updates_refuses_cname():
    with pytest.raises(ConflictError, match=r"reply\.ghe\.example\.com is a CNAME to elb\.example\.net\."):
        plan_updates(EXP, {**EMPTY, ("reply.ghe.example.com", "CNAME"): Answer(("elb.example.net.",), 300)}, "present")


def test_plan_updates_needs_the_primary():
    with pytest.raises(DnsExpectError, match="update server: timeout"):
        plan_updates(EXP, {**GOOD, ("noreply.ghe.example.com", "MX"): Answer(error="timeout")}, "present")
    with pytest.raises(DnsExpectError, match="cannot plan"):
        plan_updates(EXP, GOOD, "verify")


def test_wildcard_mode_adds_explicit_reply_address():
    expected = build_expected(H, ["192.0.2.10"], reply_record="wildcard", ttl=300)
    # reply.<host> answers with an address synthesized from an existing wildcard, and has no MX yet
    answers = {q: Answer() for q in needed_queries(expected)}
    answers[("*.ghe.example.com", "A")] = Answer(("192.0.2.10",), 300)
    answers[("reply.ghe.example.com", "A")] = Answer(("192.0.2.10",), 300)
    answers[("ghe.example.com", "A")] = Answer(("192.0.2.10",), 300)
    answers[("noreply.ghe.example.com", "MX")] = Answer(("10 ghe.example.com.",), 300)
    assert _ops(answers, expected=expected) == [
        "update add reply.ghe.example.com. 300 IN A 192.0.2.10",
        "update add reply.ghe.example.com. 300 IN MX 10 reply.ghe.example.com.",
    ]


def test_render_operation_txt_longer_than_255():
    value = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(1, 30)) + " -all"
    text = render_operation(Operation("add", H, "TXT", value, 60))
    chunks = text.split(" IN TXT ", 1)[1]
    assert chunks.startswith('"v=spf1 ip4:192.0.2.1 ')
    assert chunks.count('" "') == 1
    assert chunks.replace('" "', "").strip('"') == value


def test_render_zone_snippet():
    expected = build_expected(H, ["192.0.2.10", "2001:db8::10"], ttl=300, dmarc={"value": "v=DMARC1; p=none"})
    assert render_zone_snippet(expected, hostname=H) == (
        "; reply-by-email records for ghe.example.com (mailops.notify.dns_mail_records)\n"
        "reply.ghe.example.com.   300 IN A     192.0.2.10\n"
        "reply.ghe.example.com.   300 IN AAAA  2001:db8::10\n"
        "reply.ghe.example.com.   300 IN MX    10 reply.ghe.example.com.\n"
        "noreply.ghe.example.com. 300 IN MX    10 ghe.example.com.\n"
        "ghe.example.com.         300 IN A     192.0.2.10  ; only if ghe.example.com has no address yet\n"
        "ghe.example.com.         300 IN AAAA  2001:db8::10  ; only if ghe.example.com has no address yet\n"
        '_dmarc.ghe.example.com.  300 IN TXT   "v=DMARC1; p=none"\n'
    )


# --- options checked before anything is sent --------------------------------------------------------

GOOD_OPTIONS = {
    "hostname": "ghe.example.com",
    "address": ["192.0.2.10"],
    "state": "present",
    "port": 53,
    "server": "ns1.example.com:5353",
    "nameservers": ["192.0.2.53", "[2001:db8::53]:53", "ns2.example.com"],
    "zone": "example.com",
    "key_name": "ansible-update.example.com.",
    "key_secret": "c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
    "key_algorithm": "hmac-sha512",
    "ttl": 3600,
    "mx_priority": 10,
    "timeout": 5.0,
    "wait_timeout": 300,
}


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"port": 1, "timeout": 0.1, "wait_timeout": 0, "ttl": 0, "mx_priority": 0},
        {"port": 65535, "timeout": 300, "wait_timeout": 86400, "ttl": 2147483647, "mx_priority": 65535},
        {"key_name": None, "key_secret": None},
        {"hostname": "bücher.example.com", "zone": "example.com."},
        {"server": None, "nameservers": None, "zone": None},
    ],
)
def test_check_options_accepts(extra):
    check_options({**GOOD_OPTIONS, **extra})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"key_algorithm": "hmac-sha999"}, "key_algorithm must be one of hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512"),
        ({"key_secret": None}, "key_name and key_secret must be given together"),
        ({"key_name": None}, "key_name and key_secret must be given together"),
        ({"key_secret": "c2VjcmV0\u00e9"}, "key_secret is not valid base64: it contains a line break, a control character or a non-ASCII"),
        ({"key_secret": "c2VjcmV0 LXNlY3JldA=="}, "key_secret is not valid base64 (letters"),
        ({"key_name": "a" * 64}, "has an empty label or a label longer than 63 characters"),
        ({"key_name": ".."}, "key_name must be a non-empty key name"),
        ({"port": True}, "port must be an integer from 1 to 65535, got True"),
        ({"port": 53.0}, "port must be an integer from 1 to 65535, got 53.0"),
        ({"timeout": float("inf")}, "timeout must be a number from 0.1 to 300, got inf"),
        ({"timeout": 301}, "timeout must be a number from 0.1 to 300, got 301"),
        ({"wait_timeout": 86401}, "wait_timeout must be an integer from 0 to 86400, got 86401"),
        ({"state": "latest"}, "state must be present, absent or verify, got 'latest'"),
        ({"hostname": None}, "hostname must be a non-empty DNS name"),
        ({"server": "ns1.example.com:\u0665\u0663"}, "port must be a number between 1 and 65535"),
        ({"nameservers": ["192.0.2.53", ""]}, "nameservers[1]: a nameserver or server entry is empty"),
        ({"nameservers": ["-ns.example.com"]}, "nameservers[0] '-ns.example.com': host '-ns.example.com' is not a valid host name"),
        ({"zone": "example.com\x00"}, 'zone "example.com\\u0000" contains a control character (U+0000) at position 11; it must be one line'),
    ],
)
def test_check_options_refuses(extra, message):
    with pytest.raises(InvalidOptionError) as raised:
        check_options({**GOOD_OPTIONS, **extra})
    assert message in str(raised.value)
    assert GOOD_OPTIONS["key_secret"] not in str(raised.value)


@pytest.mark.parametrize("name", ["ghe.example.com\n", "ghe.example.com\u2028", "ghe.example.com\x0b", "ghe\x1c.example.com", "ghe.example.com.."])
def test_normalize_name_refuses_line_breaks_and_double_dots(name):
    with pytest.raises(InvalidOptionError):
        normalize_name(name)
