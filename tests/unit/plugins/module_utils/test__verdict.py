# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._diagnosis import CATALOGUE
from ansible_collections.mailops.notify.plugins.module_utils._verdict import (
    EvidenceError,
    analyze,
    firewall_port_state,
    parse_postconf,
)

HOST = "ghe.example.test"
RELAY = "smtp.example.test"
NS1 = "ns1.example.test (127.0.0.1:5301)"
NS2 = "ns2.example.test (127.0.0.1:5302)"


def diag(code: str) -> dict:
    return CATALOGUE[code].as_dict()


def probe_ok() -> dict:
    return {
        "host": RELAY,
        "port": 587,
        "security": "starttls",
        "stage_failed": None,
        "stages": [
            {"name": n, "ok": True, "code": c} for n, c in (("connect", None), ("banner", 220), ("ehlo", 250), ("tls", 220), ("ehlo", 250), ("auth", 235))
        ],
        "transcript": [{"dir": "->", "text": "AUTH PLAIN ********"}, {"dir": "<-", "text": "235 2.7.0 Authentication successful"}],
        "tls": {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "verified": True},
        "auth_mechanism": "PLAIN",
        "diagnosis": None,
        "sent": False,
    }


def probe_failed(stage: str, code: int | None, text: str, diagnosis: str) -> dict:
    probe = probe_ok()
    names = [s["name"] for s in probe["stages"]]
    cut = names.index(stage)
    probe["stages"] = [*probe["stages"][:cut], {"name": stage, "ok": False, "code": code, "enhanced_code": None, "text": text}]
    probe["stage_failed"] = stage
    probe["diagnosis"] = diag(diagnosis)
    return probe


def record(key: str, name: str, rtype: str, statuses: tuple[str, str]) -> dict:
    return {
        "key": key,
        "name": name,
        "type": rtype,
        "expected": ["10 reply.ghe.example.test."] if rtype == "MX" else ["127.0.0.1"],
        "status": "missing" if "missing" in statuses else "ok",
        "nameservers": [
            {"nameserver": ns, "status": st, "actual": [] if st != "ok" else ["x"], "ttl": 3600, "message": ""} for ns, st in zip((NS1, NS2), statuses)
        ],
    }


def dns_ok() -> dict:
    return {
        "state": "verify",
        "nameservers": [NS1, NS2],
        "records": [
            record("reply_a", f"reply.{HOST}", "A", ("ok", "ok")),
            record("reply_mx", f"reply.{HOST}", "MX", ("ok", "ok")),
            record("noreply_mx", f"noreply.{HOST}", "MX", ("ok", "ok")),
        ],
    }


NFT_OPEN = """table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\ttcp dport 22 accept
\t\ttcp dport 25 accept comment "mailops.notify: inbound mail"
\t}
}
"""
NFT_CLOSED = NFT_OPEN.replace('\t\ttcp dport 25 accept comment "mailops.notify: inbound mail"\n', "")


def message(qid: str, to: str, relay: str, status: str, *, reply: str, dsn: str, diagnosis: str | None) -> dict:
    return {
        "queue_id": qid,
        "from": "noreply@ghe.example.test",
        "status": status,
        "reply": reply,
        "last_seen": f"2026-11-26T09:{qid[-2:]}:00+00:00",
        "recipients": [{"address": to, "relay": relay, "status": status, "dsn": dsn, "reply": reply, "diagnosis": diag(diagnosis) if diagnosis else None}],
        "diagnosis": diag(diagnosis) if diagnosis else None,
    }


SENT = message("A1B2C3D410", "alice@example.org", f"{RELAY}[127.0.0.1]:587", "sent", reply="250 2.0.0 Ok: queued as 4F00", dsn="2.0.0", diagnosis=None)
INBOUND_SENT = message("B1B2C3D420", f"reply+abc@reply.{HOST}", "virtual", "sent", reply="delivered to maildir", dsn="2.0.0", diagnosis=None)


def green() -> dict:
    return {
        "hostname": HOST,
        "relay": {"host": RELAY, "port": 587, "security": "starttls"},
        "port_check": {
            "ok": True,
            "targets": [{"host": RELAY, "port": 587, "state": "open", "ok": True, "error": None, "diagnosis": None}],
            "listening": [{"port": 25, "listening": True, "addresses": ["0.0.0.0", "::"]}],
        },
        "smtp_probe": probe_ok(),
        "dns": dns_ok(),
        "firewall": {"backend": "nftables", "output": NFT_OPEN, "rc": 0},
        "mail_log": {"messages": [SENT, INBOUND_SENT], "rejects": [], "queue": []},
        "postconf": f"myhostname = {HOST}\nrelayhost = [{RELAY}]:587\nvirtual_mailbox_domains = reply.{HOST}\n",
        "inbound": True,
    }


def with_changes(**changes) -> dict:
    evidence = green()
    for path, value in changes.items():
        target = evidence
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return evidence


def statuses(verdict) -> dict:
    return {f"{hop.direction}.{hop.key}": hop.status for hop in verdict.hops}


ALL_OK = {
    "outbound.submission": "ok",
    "outbound.relay": "ok",
    "outbound.delivery": "ok",
    "inbound.mx": "ok",
    "inbound.port25": "ok",
    "inbound.maildir": "ok",
}

CASES = [
    pytest.param(
        {},
        [
            "outbound: ok - relay smtp.example.test:587 accepts the credentials; last message A1B2C3D410 was sent",
            f"inbound: ok - mail for reply.{HOST} reaches the Maildir",
        ],
        {},
        None,
        id="all-green",
    ),
    pytest.param(
        {"smtp_probe": probe_failed("auth", 535, "5.7.8 Error: authentication failed: authentication failure", "auth_failed")},
        ["outbound: relay rejects the credentials (535 5.7.8) - check the username and the (app) password"],
        {"outbound.relay": "failed", "outbound.delivery": "unknown"},
        "auth_failed",
        id="wrong-password-535",
    ),
    pytest.param(
        {
            "port_check__targets": [
                {
                    "host": RELAY,
                    "port": 587,
                    "state": "refused",
                    "ok": False,
                    "error": "[Errno 111] Connection refused",
                    "diagnosis": diag("connection_refused"),
                }
            ],
            "smtp_probe": probe_failed("connect", None, "[Errno 111] Connection refused", "connection_refused"),
        },
        ["outbound: smtp.example.test:587 refuses the connection - check the host and port and that the server is running"],
        {"outbound.relay": "failed", "outbound.delivery": "unknown"},
        "connection_refused",
        id="relay-down-refused",
    ),
    pytest.param(
        {
            "port_check__targets": [{"host": RELAY, "port": 587, "state": "timeout", "ok": False, "error": "timed out", "diagnosis": diag("timeout")}],
            "smtp_probe": {"skipped": True, "changed": False},
        },
        ["outbound: no answer from smtp.example.test:587 (timeout) - outbound port 587 is probably blocked by a firewall or the provider"],
        {"outbound.relay": "failed", "outbound.delivery": "unknown"},
        "timeout",
        id="relay-timeout",
    ),
    pytest.param(
        {"smtp_probe": probe_failed("tls", 502, "5.5.1 Error: command not implemented", "starttls_not_offered")},
        ["outbound: relay does not offer STARTTLS (502 5.5.1) - use port 587 with starttls or port 465 with tls"],
        {"outbound.relay": "failed", "outbound.delivery": "unknown"},
        "starttls_not_offered",
        id="starttls-missing",
    ),
    pytest.param(
        {"dns__records": [record("reply_a", f"reply.{HOST}", "A", ("ok", "ok")), record("reply_mx", f"reply.{HOST}", "MX", ("ok", "missing"))]},
        [None, f"inbound: MX for reply.{HOST} missing on ns2.example.test - create or fix it with mailops.notify.dns_mail_records (state=present)"],
        {"inbound.mx": "failed", "inbound.maildir": "unknown"},
        None,
        id="mx-missing-on-ns2",
    ),
    pytest.param(
        {"firewall__output": NFT_CLOSED},
        [None, "inbound: port 25 is closed by the firewall (nftables) - open 25/tcp for inbound mail"],
        {"inbound.port25": "failed", "inbound.maildir": "unknown"},
        "timeout",
        id="port-25-closed-by-firewall",
    ),
    pytest.param(
        {"port_check__listening": [{"port": 25, "listening": False, "addresses": []}]},
        [
            "outbound: Postfix does not listen on port 25; the application cannot hand mail over",
            "inbound: Postfix does not listen on port 25 - start Postfix and check master.cf",
        ],
        {"outbound.submission": "failed", "inbound.port25": "failed", "inbound.maildir": "unknown"},
        "connection_refused",
        id="postfix-not-listening",
    ),
    pytest.param(
        {"port_check__listening": [{"port": 25, "listening": True, "addresses": ["127.0.0.1", "::1"]}]},
        [None, "inbound: Postfix listens on port 25 only on loopback (127.0.0.1, ::1) - set inet_interfaces = all (inbound mail on)"],
        {"inbound.port25": "failed", "inbound.maildir": "unknown"},
        "connection_refused",
        id="postfix-loopback-only",
    ),
    pytest.param(
        {
            "mail_log__messages": [
                SENT,
                message(
                    "C1B2C3D430",
                    "erin@example.org",
                    f"{RELAY}[127.0.0.1]:587",
                    "deferred",
                    reply="SASL authentication failed; server smtp.example.test[127.0.0.1] said: 535 5.7.8 Error: authentication failed",
                    dsn="4.7.8",
                    diagnosis="auth_failed",
                ),
                INBOUND_SENT,
            ]
        },
        ["outbound: relay rejects the credentials (535 5.7.8) (Postfix log) - check the username and the (app) password"],
        {"outbound.relay": "failed", "outbound.delivery": "unknown"},
        "auth_failed",
        id="probe-ok-but-postfix-credentials-wrong",
    ),
    pytest.param(
        {
            "mail_log__messages": [
                message(
                    "D1B2C3D440",
                    "bob@example.org",
                    f"{RELAY}[127.0.0.1]:587",
                    "bounced",
                    reply="host smtp.example.test[127.0.0.1] said: 550 5.1.1 <bob@example.org>: Recipient address rejected (in reply to RCPT TO command)",
                    dsn="5.1.1",
                    diagnosis="unknown_recipient",
                )
            ]
        },
        [
            "outbound: message D1B2C3D440 to bob@example.org bounced: the recipient address does not exist (550 5.1.1) - check the recipient address",
            "inbound: no fault found (all 3 records are as expected on 2 nameserver(s); port 25 is open and Postfix listens on it);"
            f" not verified: {HOST}:25 \u2192 reply Maildir",
        ],
        {"outbound.delivery": "failed", "inbound.mx": "ok", "inbound.maildir": "unknown"},
        "unknown_recipient",
        id="recipient-bounced",
    ),
    pytest.param(
        {
            "mail_log__rejects": [
                {
                    "timestamp": "2026-11-26T10:00:00+00:00",
                    "client": "unknown[203.0.113.7]",
                    "to": f"reply+x@reply.{HOST}",
                    "code": 554,
                    "dsn": "5.7.1",
                    "reply": f"<reply+x@reply.{HOST}>: Relay access denied",
                    "diagnosis": diag("relay_denied"),
                }
            ]
        },
        [None, f"inbound: Postfix rejects mail for reply.{HOST} (554 5.7.1): <reply+x@reply.{HOST}>: Relay access denied"],
        {"inbound.maildir": "failed"},
        "relay_denied",
        id="inbound-rejected-by-postfix",
    ),
]


@pytest.mark.parametrize(("changes", "expected_lines", "expected_statuses", "diagnosis"), CASES)
def test_verdict_table(changes, expected_lines, expected_statuses, diagnosis):
    verdict = analyze(with_changes(**copy.deepcopy(changes)))
    for got, want in zip(verdict.verdicts, expected_lines):
        if want is not None:
            assert got == want
    assert len(verdict.verdicts) == 2
    assert statuses(verdict) == {**ALL_OK, **expected_statuses}
    assert verdict.ok is (not any(s == "failed" for s in expected_statuses.values()))
    failed = [hop for hop in verdict.hops if hop.status == "failed"]
    if diagnosis is not None:
        assert failed[0].diagnosis["code"] == diagnosis
        assert failed[0].diagnosis == diag(diagnosis)


def test_two_failures_in_one_direction_are_counted():
    evidence = with_changes(firewall__output=NFT_CLOSED, dns__records=[record("reply_mx", f"reply.{HOST}", "MX", ("missing", "missing"))])
    line = analyze(evidence).verdicts[1]
    assert line.startswith(f"inbound: MX for reply.{HOST} missing on ns1.example.test (and 1 more)")
    assert line.endswith(f"[+1 more failed hop: MX reply.{HOST} \u2192 {HOST}:25]")


def test_no_evidence_at_all_is_unknown_not_ok():
    verdict = analyze({}, HOST)
    assert verdict.ok is True
    assert {hop.status for hop in verdict.hops} == {"unknown"}
    assert verdict.verdicts == [
        "outbound: no fault found; not verified: app \u2192 Postfix, Postfix \u2192 recipient MX (no relay), recipient MX (no relay) \u2192 recipient",
        "inbound: not checked (inbound mail is not configured)",
    ]
    assert verdict.inbound_checked is False


def test_inbound_is_guessed_from_postconf_and_relay_from_relayhost():
    verdict = analyze({"postconf": [f"myhostname = {HOST}", "relayhost = [smtp.example.test]:2525", f"virtual_mailbox_domains = reply.{HOST}"]})
    assert verdict.inbound_checked is True
    assert verdict.hops[1].target == "relay smtp.example.test:2525"
    assert verdict.hops[3].source == "outside" and verdict.hops[3].target == f"MX reply.{HOST}"


def test_text_and_dict_forms():
    verdict = analyze(with_changes(smtp_probe=probe_failed("auth", 535, "5.7.8 Error", "auth_failed")))
    as_dict = verdict.as_dict()
    assert as_dict["ok"] is False and as_dict["verdicts"] == verdict.verdicts
    relay = as_dict["hops"][1]
    assert relay["key"] == "relay" and relay["label"] == "Postfix \u2192 relay smtp.example.test:587" and relay["status"] == "failed"
    assert "<- 235 2.7.0 Authentication successful" in relay["evidence"]
    text = verdict.text()
    assert text.startswith(verdict.verdicts[0] + "\n" + verdict.verdicts[1] + "\n")
    assert "[FAILED] outbound: Postfix \u2192 relay smtp.example.test:587" in text and "diagnosis auth_failed:" in text


def test_bad_evidence_shape():
    with pytest.raises(EvidenceError, match="smtp_probe must be a dictionary"):
        analyze({"smtp_probe": "oops"})
    with pytest.raises(EvidenceError):
        analyze(["not", "a", "dict"])


@pytest.mark.parametrize(
    ("firewall", "state", "reason"),
    [
        ({"backend": "nftables", "output": NFT_OPEN}, "open", 'rule: tcp dport 25 accept comment "mailops.notify: inbound mail"'),
        ({"backend": "nftables", "output": NFT_CLOSED}, "closed", "input chain policy drop and no rule accepts 25/tcp"),
        ({"output": "backend: nftables\n" + NFT_CLOSED.replace("policy drop", "policy accept")}, "open", "input chain policy accept"),
        ({"backend": "nftables", "output": NFT_OPEN.replace("tcp dport 25 accept", "tcp dport { 22, 25, 443 } drop")}, "closed", None),
        ({"backend": "nftables", "output": NFT_CLOSED.replace("tcp dport 22 accept", "tcp dport 20-30 accept")}, "open", None),
        ({"backend": "nftables", "output": "table ip nat {\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat;\n\t}\n}\n"}, "open", None),
        ({"backend": "nftables", "output": ""}, "none", "the nftables ruleset is empty"),
        (
            {"backend": "nftables", "output": "", "rc": 1, "stderr": "Operation not permitted"},
            "unknown",
            "reading the nftables state failed (rc=1): Operation not permitted",
        ),
        ({"backend": "firewalld", "output": "public (active)\n  target: default\n  services: ssh dhcpv6-client smtp\n  ports: \n"}, "open", None),
        ({"backend": "firewalld", "output": "public (active)\n  services: ssh\n  ports: 20-30/tcp\n"}, "open", "port 20-30/tcp is open"),
        ({"backend": "firewalld", "output": "public (active)\n  target: default\n  services: ssh\n  ports: 443/tcp\n"}, "closed", None),
        ({"backend": "firewalld", "output": "FirewallD is not running"}, "none", None),
        ({"backend": "ufw", "output": "Status: inactive"}, "none", None),
        ({"backend": "ufw", "output": "Status: active\nDefault: deny (incoming)\n\nTo  Action  From\n25/tcp  ALLOW IN  Anywhere\n"}, "open", None),
        ({"backend": "ufw", "output": "Status: active\nDefault: deny (incoming)\n\nTo  Action  From\n22/tcp  ALLOW IN  Anywhere\n"}, "closed", None),
        ({"backend": "ufw", "output": "Status: active\nDefault: allow (incoming)\n"}, "open", None),
        ({"backend": "none", "output": ""}, "none", None),
        ({"backend": "pf", "output": "x"}, "unknown", None),
        (None, "unknown", "the firewall was not read"),
        ({"skipped": True}, "unknown", None),
    ],
)
def test_firewall_port_state(firewall, state, reason):
    result = firewall_port_state(firewall, 25)
    assert result["state"] == state
    if reason is not None:
        assert result["reason"] == reason


def test_parse_postconf():
    assert parse_postconf("a = b\n# c = d\nrelayhost = [x]:587\nbad line\n") == {"a": "b", "relayhost": "[x]:587"}
    assert parse_postconf(None) == {}
