# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import json
import lzma
import os
import shutil
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from ansible_collections.mailops.notify.plugins.module_utils import _postfix_log as pl
from ansible_collections.mailops.notify.plugins.module_utils._postfix_log import (
    FileTail,
    InvalidQuery,
    LogFilter,
    LogQuery,
    LogSourceError,
    PostfixLogParser,
    QueueParseError,
    ResultCollector,
    WaitTimeout,
    iter_lines,
    open_log,
    parse_journal_json,
    parse_line,
    parse_postqueue_json,
    parse_since,
    parse_syslog_line,
    rotated_files,
    run_query,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "postfix_logs"
UTC = dt.timezone.utc
REF = dt.datetime(2026, 11, 26, 15, 0, 0, tzinfo=UTC)


def parse_file(path: Path | str, *, reference: dt.datetime = REF, max_open: int = 10000):
    parser = PostfixLogParser(max_open=max_open)
    records = []
    with open_log(str(path)) as handle:
        for raw in iter_lines(handle):
            line = parse_line(raw, reference=reference, tz=UTC)
            if line is not None:
                records.extend(parser.feed(line))
    records.extend(parser.finish())
    return parser, records


def messages_of(records):
    return {record.queue_id: record.to_dict() for record in records if isinstance(record, pl.MessageRecord)}


def rejects_of(records):
    return [record.to_dict() for record in records if isinstance(record, pl.RejectRecord)]


class FakeRunner:
    """Stands in for module.run_command: maps a program name to (rc, stdout, stderr) or a callable."""

    def __init__(self, commands: dict | None = None) -> None:
        self.commands = commands or {}
        self.calls: list[list[str]] = []

    def which(self, name):
        return f"/usr/bin/{name}" if name in self.commands else None

    def run(self, args):
        self.calls.append(list(args))
        handler = self.commands[os.path.basename(args[0])]
        return handler(args) if callable(handler) else handler


# --------------------------------------------------------------------------------------------------
# Line prefixes


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Oct 30 00:47:19 54-171-144-1 postfix/qmgr[17250]: 51DC9163323: removed",
            (dt.datetime(2026, 10, 30, 0, 47, 19, tzinfo=UTC), "54-171-144-1", "postfix/qmgr", "17250", "51DC9163323: removed"),
        ),
        (
            "Nov  6 01:02:03 host postfix/submission/smtpd[9]: connect from x[1.2.3.4]",
            (dt.datetime(2026, 11, 6, 1, 2, 3, tzinfo=UTC), "host", "postfix/submission/smtpd", "9", "connect from x[1.2.3.4]"),
        ),
        (
            "2026-11-26T14:02:03.123456+00:00 host postfix/smtp[123]: text",
            (dt.datetime(2026, 11, 26, 14, 2, 3, 123456, tzinfo=UTC), "host", "postfix/smtp", "123", "text"),
        ),
        (
            "2026-11-26T14:02:03+0100 host postfix-out/qmgr[1]: text",
            (dt.datetime(2026, 11, 26, 13, 2, 3, tzinfo=UTC), "host", "postfix-out/qmgr", "1", "text"),
        ),
        (
            "2026-11-26T14:02:03Z host postfix/smtp[1]: text",
            (dt.datetime(2026, 11, 26, 14, 2, 3, tzinfo=UTC), "host", "postfix/smtp", "1", "text"),
        ),
        (
            "2026-11-26 14:02:03,5 host postfix/postlog: no pid here",
            (dt.datetime(2026, 11, 26, 14, 2, 3, 500000, tzinfo=UTC), "host", "postfix/postlog", None, "no pid here"),
        ),
        (
            "<22>Nov 26 14:02:03 host postfix[77]: daemon started",
            (dt.datetime(2026, 11, 26, 14, 2, 3, tzinfo=UTC), "host", "postfix", "77", "daemon started"),
        ),
        # not Postfix, or not a log line at all
        ("Nov 26 13:00:03 appliance dovecot: imap-login: Login: user=<zed>", None),
        ("Nov 26 13:00:03 appliance kernel: [1.2] eth0 up", None),
        ("garbage line without any structure", None),
        ("Nov 26 13:00:03 appl", None),
        ("", None),
    ],
)
def test_parse_syslog_line(line, expected):
    parsed = parse_syslog_line(line, reference=REF, tz=UTC)
    if expected is None:
        assert parsed is None
    else:
        assert tuple(parsed) == expected
        assert parsed.program == expected[2].rpartition("/")[2]


@pytest.mark.parametrize(
    ("stamp", "reference", "year"),
    [
        ("Dec 31 23:59:59", dt.datetime(2027, 1, 1, 0, 5, tzinfo=UTC), 2026),  # log spans new year
        ("Jan  1 00:00:01", dt.datetime(2027, 1, 1, 0, 5, tzinfo=UTC), 2027),
        ("Nov 27 10:00:00", dt.datetime(2026, 11, 26, 15, 0, tzinfo=UTC), 2026),  # clock skew of less than a day
        ("Nov 28 10:00:00", dt.datetime(2026, 11, 26, 15, 0, tzinfo=UTC), 2025),  # more: last year
        ("Feb 29 12:00:00", dt.datetime(2026, 11, 26, 15, 0, tzinfo=UTC), 2024),  # leap day: the last leap year
    ],
)
def test_classic_timestamp_year(stamp, reference, year):
    parsed = parse_syslog_line(f"{stamp} h postfix/qmgr[1]: X", reference=reference, tz=UTC)
    assert parsed.timestamp.year == year


def test_classic_timestamp_without_tz_is_local_time():
    parsed = parse_syslog_line("Nov 26 10:00:00 h postfix/qmgr[1]: X", reference=REF)
    assert parsed.timestamp == dt.datetime(2026, 11, 26, 10, 0).astimezone()
    assert parsed.timestamp.tzinfo is not None


@pytest.mark.parametrize(
    ("entry", "expected_text", "expected_cursor"),
    [
        (
            {"__CURSOR": "c1", "__REALTIME_TIMESTAMP": "1795701600000000", "SYSLOG_IDENTIFIER": "postfix/smtp", "_PID": "5", "MESSAGE": "hello"},
            "hello",
            "c1",
        ),
        ({"__CURSOR": "c2", "SYSLOG_IDENTIFIER": "postfix/smtp", "MESSAGE": list(b"bytes \xff ok")}, "bytes \ufffd ok", "c2"),
        ({"__CURSOR": "c3", "SYSLOG_IDENTIFIER": "sshd", "MESSAGE": "not mail"}, None, "c3"),
        ({"__CURSOR": "c4", "SYSLOG_IDENTIFIER": "postfix/smtp"}, None, "c4"),
        ([1, 2], None, None),
    ],
)
def test_parse_journal_json(entry, expected_text, expected_cursor):
    line, cursor = parse_journal_json(json.dumps(entry))
    assert cursor == expected_cursor
    assert (line.text if line else None) == expected_text


def test_parse_journal_json_fields():
    line, _cursor = parse_journal_json(
        json.dumps({"__REALTIME_TIMESTAMP": "1795701600000000", "_HOSTNAME": "h", "SYSLOG_IDENTIFIER": "postfix/smtp", "SYSLOG_PID": "12", "MESSAGE": "m"})
    )
    assert line == pl.LogLine(dt.datetime(2026, 11, 26, 14, 0, tzinfo=UTC), "h", "postfix/smtp", "12", "m")
    assert line.program == "smtp"
    assert parse_journal_json("{not json")[0] is None


# --------------------------------------------------------------------------------------------------
# Fixtures: whole records


def test_ghes_guide_example():
    parser, records = parse_file(FIXTURES / "ghes_inbound.log")
    assert parser.lines == 7
    assert [record.to_dict() for record in records] == [
        {
            "queue_id": "51DC9163323",
            "host": "54-171-144-1",
            "message_id": "b2b9c260-4aaa-4a93-acbb-0b2ddda68579@me.com",
            "from": "tcook@icloud.com",
            "size": 5048,
            "nrcpt": 1,
            "client": "st11p06mm-asmtp002.mac.com[17.172.124.250]",
            "status": "sent",
            "final": True,
            "removed": True,
            "reply": "delivered to maildir",
            "bounce_queue_id": None,
            "first_seen": "2026-10-30T00:47:19+00:00",
            "last_seen": "2026-10-30T00:47:19+00:00",
            "recipients": [
                {
                    "address": "reply+i-1-1801beb4df676a79250d1e61e54ab763822c207d-5@reply.ghe.tjl2.co.ie",
                    "orig_to": None,
                    "relay": "virtual",
                    "delay": 0.12,
                    "delays": "0.11/0/0/0",
                    "tls": None,
                    "tls_connection": None,
                    "dsn": "2.0.0",
                    "status": "sent",
                    "reply": "delivered to maildir",
                    "relay_queue_id": None,
                    "timestamp": "2026-10-30T00:47:19+00:00",
                    "attempts": 1,
                }
            ],
        }
    ]


# (fixture, queue id, status, final, message-id, [(recipient, status, attempts, diagnosis code)], message diagnosis code)
MESSAGE_CASES = [
    ("relay_outbound.log", "A1B2C3D4E5", "sent", True, "notif-1@ghe.example.test", [("alice@example.org", "sent", 1, None)], None),
    (
        "relay_outbound.log",
        "B2C3D4E5F6",
        "bounced",
        True,
        "notif-2@ghe.example.test",
        [("bob@example.org", "bounced", 1, "unknown_recipient"), ("carol@example.org", "sent", 1, None)],
        "unknown_recipient",
    ),
    ("relay_outbound.log", "D4E5F6A7B8", "sent", True, "notif-3@ghe.example.test", [("dave@example.org", "sent", 2, None)], None),
    ("relay_outbound.log", "E5F6A7B8C9", "deferred", False, "notif-4@ghe.example.test", [("erin@example.org", "deferred", 1, "auth_failed")], "auth_failed"),
    (
        "relay_outbound.log",
        "F6A7B8C9DA",
        "deferred",
        False,
        "notif-5@ghe.example.test",
        [("frank@example.org", "deferred", 1, "connection_refused")],
        "connection_refused",
    ),
    ("expired.log", "7A8B9C0D1E", "expired", True, "old-1@ghe.example.test", [("gone@example.net", "deferred", 2, "timeout")], "timeout"),
    ("discard.log", "1F2E3D4C5B", "discarded", True, "to-noreply@outside.lab.test", [("noreply@noreply.ghe.example.test", "discarded", 1, None)], None),
    ("discard.log", "2A3B4C5D6E", "discarded", True, "spam@outside.lab.test", [], None),
    ("long_ids_iso.log", "4Fxyz1Tq2Kz9mN3", "sent", True, "long-1@ghe.example.test", [("alice@example.org", "sent", 1, None)], None),
    ("long_ids_iso.log", "3Pt2mN2VXxznjll", "sent", True, "long-2@ghe.example.test", [("bob@example.org", "sent", 1, None)], None),
    ("short_iso.log", "5E6F7A8B9C", "sent", True, "iso@ghe.example.test", [("root@appliance.lab.test", "sent", 1, None)], None),
    ("journal.json", "6A7B8C9D0E", "sent", True, "journal-1@ghe.example.test", [("alice@example.org", "sent", 1, None)], None),
    ("truncated.log", "51DC9163323", "sent", True, None, [("", "sent", 1, None)], None),
    ("truncated.log", "0A1B2C3D4E", "bounced", True, None, [("zed@example.org", "bounced", 1, "relay_denied")], "relay_denied"),
    ("truncated.log", "0A1B2C3D4F", "deferred", False, None, [("last@example.org", "deferred", 1, "unknown")], "unknown"),
]


@pytest.mark.parametrize("case", MESSAGE_CASES, ids=[f"{case[0]}-{case[1]}" for case in MESSAGE_CASES])
def test_fixture_messages(case):
    fixture, qid, status, final, message_id, recipients, diagnosis = case
    _parser, records = parse_file(FIXTURES / fixture)
    message = messages_of(records)[qid]
    assert message["status"] == status
    assert message["final"] is final
    assert message["message_id"] == message_id
    got = [(r["address"], r["status"], r["attempts"], (r.get("diagnosis") or {}).get("code")) for r in message["recipients"]]
    assert got == recipients
    if status == "sent":
        assert "diagnosis" not in message
    else:
        assert (message["diagnosis"] or {}).get("code") == diagnosis


@pytest.mark.parametrize(
    ("fixture", "queue_ids"),
    [
        ("relay_outbound.log", ["A1B2C3D4E5", "B2C3D4E5F6", "D4E5F6A7B8", "E5F6A7B8C9", "F6A7B8C9DA"]),
        ("expired.log", ["7A8B9C0D1E"]),
        ("discard.log", ["1F2E3D4C5B", "2A3B4C5D6E"]),
        ("long_ids_iso.log", ["4Fxyz1Tq2Kz9mN3", "3Pt2mN2VXxznjll"]),
        ("rejects.log", []),
        ("truncated.log", ["51DC9163323", "0A1B2C3D4E", "0A1B2C3D4F"]),
    ],
)
def test_fixture_message_order(fixture, queue_ids):
    """Removed messages come out when removed, the ones still in flight at the end (in order of last activity)."""
    _parser, records = parse_file(FIXTURES / fixture)
    assert [r.queue_id for r in records if isinstance(r, pl.MessageRecord)] == queue_ids


def test_relay_details():
    _parser, records = parse_file(FIXTURES / "relay_outbound.log")
    messages = messages_of(records)
    alice = messages["A1B2C3D4E5"]["recipients"][0]
    assert alice["tls_connection"] == {
        "trust": "Verified",
        "peer": "relay.lab.test[10.0.0.2]:587",
        "protocol": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "bits": "256/256",
    }
    assert alice["relay_queue_id"] == "4F00DBA1C2"
    assert alice["delays"] == "0.05/0.01/0.6/0.24"
    assert messages["A1B2C3D4E5"]["client"] == "local"
    bounced = messages["B2C3D4E5F6"]
    assert bounced["bounce_queue_id"] == "C3D4E5F6A7"
    assert bounced["nrcpt"] == 2
    assert bounced["reply"].startswith("host relay.lab.test[10.0.0.2] said: 550 5.1.1 <bob@example.org>")
    assert bounced["reply"].endswith("(in reply to RCPT TO command)")
    # the other pid's delivery did not inherit the TLS line of pid 2103
    assert bounced["recipients"][0]["tls_connection"] is None
    retried = messages["D4E5F6A7B8"]
    assert retried["recipients"][0]["delay"] == 301.0
    assert retried["first_seen"] == "2026-11-26T09:05:00+00:00"
    assert retried["last_seen"] == "2026-11-26T09:10:01+00:00"


def test_long_ids_and_tls_field():
    _parser, records = parse_file(FIXTURES / "long_ids_iso.log")
    messages = messages_of(records)
    first = messages["4Fxyz1Tq2Kz9mN3"]["recipients"][0]
    assert (first["tls"], first["dsn"], first["relay_queue_id"]) == ("may", "2.0.0", "4Fabc9QwErTy1Z2")
    second = messages["3Pt2mN2VXxznjll"]["recipients"][0]
    assert (second["tls"], second["orig_to"], second["timestamp"]) == ("dane:encrypt", "bob-alias@ghe.example.test", "2026-11-26T12:00:01+01:00")
    assert messages["3Pt2mN2VXxznjll"]["last_seen"] == "2026-11-26T11:00:01.300000+00:00"


def test_expired_message():
    _parser, records = parse_file(FIXTURES / "expired.log")
    message = messages_of(records)["7A8B9C0D1E"]
    assert message["status"] == "expired"
    assert message["reply"] == "connect to mx.example.net[192.0.2.25]:25: Connection timed out"
    assert message["bounce_queue_id"] == "8B9C0D1E2F"
    assert message["first_seen"] == "2026-11-21T08:00:00+00:00"


def test_discards():
    _parser, records = parse_file(FIXTURES / "discard.log")
    messages = messages_of(records)
    assert messages["1F2E3D4C5B"]["recipients"][0]["reply"] == "noreply.ghe.example.test"
    header = messages["2A3B4C5D6E"]
    assert header["reply"] == "header Subject: cheap pills from outside.lab.test[10.0.0.9]: spam subject"
    assert header["from"] == "spam@outside.lab.test"
    assert header["removed"] is False
    assert header["diagnosis"] is None


REJECT_CASES = [
    (
        0,
        {
            "program": "smtpd",
            "kind": "reject",
            "queue_id": None,
            "stage": "RCPT",
            "client": "unknown[203.0.113.7]",
            "code": 554,
            "dsn": "5.7.1",
            "reply": "<unknown[203.0.113.7]>: Client host rejected: Access denied",
            "from": "mattermost@chat.example.test",
            "to": "user@example.org",
            "helo": "chat.example.test",
            "proto": "ESMTP",
        },
        "relay_denied",
    ),
    (1, {"code": 454, "dsn": "4.7.1", "reply": "<victim@elsewhere.example>: Relay access denied", "to": "victim@elsewhere.example"}, "relay_denied"),
    (
        2,
        {
            "program": "postscreen",
            "client": "[198.51.100.4]:40123",
            "code": 550,
            "reply": "Service unavailable; client [198.51.100.4] blocked using zen.spamhaus.org",
            "from": "a@bad.example",
            "to": "reply@reply.ghe.example.test",
            "helo": "bad.example",
        },
        "relay_denied",
    ),
    (
        3,
        {
            "kind": "milter-reject",
            "queue_id": "9C8B7A6F5E",
            "message_id": "milter@outside.lab.test",
            "stage": "END-OF-MESSAGE",
            "code": None,
            "dsn": "5.7.1",
            "reply": "Message rejected by content filter",
        },
        None,
    ),
    (
        4,
        {
            "program": "cleanup",
            "queue_id": "8D7C6B5A4F",
            "stage": "HEADER",
            "client": "outside.lab.test[10.0.0.9]",
            "dsn": "5.7.1",
            "reply": "Message content rejected",
            "from": "y@outside.lab.test",
        },
        None,
    ),
]


@pytest.mark.parametrize(("index", "fields", "diagnosis"), REJECT_CASES)
def test_rejects(index, fields, diagnosis):
    _parser, records = parse_file(FIXTURES / "rejects.log")
    rejects = rejects_of(records)
    assert len(rejects) == 5
    reject = rejects[index]
    assert {key: reject[key] for key in fields} == fields
    assert set(reject["diagnosis"]) == {"code", "summary", "hint"}
    if diagnosis is not None:
        assert reject["diagnosis"]["code"] == diagnosis
    # a message refused at end of data is not left behind as a queued message
    assert messages_of(records) == {}


def test_truncated_lines_are_counted_not_fatal():
    parser, records = parse_file(FIXTURES / "truncated.log")
    assert parser.incomplete == 2  # the delivery lines cut before and inside "status="; "from=<...>, si" is still usable
    messages = messages_of(records)
    assert messages["0A1B2C3D4E"]["recipients"][0]["attempts"] == 1
    assert messages["0A1B2C3D4E"]["reply"] == "host relay.lab.test[10.0.0.2] said: 554 5.7.1 <zed@example.org>: Relay access den"
    assert messages["0A1B2C3D4E"]["from"] == "noreply@ghe.example.test"
    assert messages["0A1B2C3D4F"]["reply"] == "connect to relay.lab.test[10.0.0.2]:587: Conn"


def test_queue_id_reuse_after_discard_starts_a_new_record():
    parser = PostfixLogParser()
    lines = [
        "Nov 26 10:00:00 h postfix/cleanup[1]: ABCDEF1234: discard: header Subject: x from a[1.2.3.4]; from=<s@x> to=<r@y> proto=ESMTP helo=<a>: no",
        "Nov 26 11:00:00 h postfix/smtpd[2]: ABCDEF1234: client=b[5.6.7.8]",
        "Nov 26 11:00:01 h postfix/qmgr[3]: ABCDEF1234: removed",
    ]
    out = []
    for raw in lines:
        out.extend(parser.feed(parse_line(raw, reference=REF, tz=UTC)))
    assert [(m.queue_id, m.status, m.client) for m in out] == [("ABCDEF1234", "discarded", None), ("ABCDEF1234", "queued", "b[5.6.7.8]")]


def test_max_open_evicts_oldest():
    parser = PostfixLogParser(max_open=3)
    out = []
    for number in range(5):
        out.extend(parser.feed(parse_line(f"Nov 26 10:00:0{number} h postfix/smtpd[1]: ABCDE{number:05d}: client=c[1.2.3.4]", reference=REF, tz=UTC)))
    assert [m.queue_id for m in out] == ["ABCDE00000", "ABCDE00001"]
    assert len(parser.open_messages()) == 3


def test_softbounce_and_verify_statuses():
    parser = PostfixLogParser()
    raw = (
        "Nov 26 10:00:00 h postfix/smtp[1]: ABCDEF1234: to=<a@b>, relay=x[1.2.3.4]:25, delay=1, delays=0/0/0/1, dsn=5.1.1,"
        " status=SOFTBOUNCE (host said: 550 5.1.1 no)"
    )
    parser.feed(parse_line(raw, reference=REF, tz=UTC))
    message = parser.open_messages()[0]
    assert message.status == "deferred"
    assert message.recipients[("a@b", None)].status == "deferred"


# --------------------------------------------------------------------------------------------------
# Filters and collector


def _sample_messages():
    _parser, records = parse_file(FIXTURES / "relay_outbound.log")
    return [r for r in records if isinstance(r, pl.MessageRecord)]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ["A1B2C3D4E5", "B2C3D4E5F6", "D4E5F6A7B8", "E5F6A7B8C9", "F6A7B8C9DA"]),
        ({"queue_id": "D4E5F6A7B8"}, ["D4E5F6A7B8"]),
        ({"message_id": "<notif-2@ghe.example.test>"}, ["B2C3D4E5F6"]),
        ({"message_id": "notif-2@ghe.example.test"}, ["B2C3D4E5F6"]),
        ({"recipient": "CAROL@example.org"}, ["B2C3D4E5F6"]),
        ({"recipient": "<dave@example.org>"}, ["D4E5F6A7B8"]),
        ({"statuses": frozenset({"deferred"})}, ["E5F6A7B8C9", "F6A7B8C9DA"]),
        ({"statuses": frozenset({"bounced", "sent"})}, ["A1B2C3D4E5", "B2C3D4E5F6", "D4E5F6A7B8"]),
        ({"since": dt.datetime(2026, 11, 26, 9, 10, 0, tzinfo=UTC)}, ["D4E5F6A7B8", "E5F6A7B8C9", "F6A7B8C9DA"]),
        ({"since": dt.datetime(2026, 11, 26, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))}, ["D4E5F6A7B8", "E5F6A7B8C9", "F6A7B8C9DA"]),
        ({"queue_id": "A1B2C3D4E5", "statuses": frozenset({"deferred"})}, []),
        ({"recipient": "nobody@example.org"}, []),
    ],
)
def test_log_filter(kwargs, expected):
    log_filter = LogFilter(**kwargs)
    assert [m.queue_id for m in _sample_messages() if log_filter.match_message(m)] == expected


def test_collector_limit_keeps_newest_and_counts_all():
    collector = ResultCollector(LogFilter(), limit=2)
    for message in _sample_messages():
        collector.add(message)
    assert [m.queue_id for m in collector.messages] == ["E5F6A7B8C9", "F6A7B8C9DA"]
    assert collector.message_count == 5
    assert collector.by_status == {"sent": 2, "deferred": 2, "bounced": 1, "expired": 0, "discarded": 0, "queued": 0}


# --------------------------------------------------------------------------------------------------
# Files: rotation, compression, damage


def _write(path: Path, text: str, compress: str | None = None) -> Path:
    data = text.encode()
    if compress == "gz":
        data = gzip.compress(data)
    elif compress == "bz2":
        data = bz2.compress(data)
    elif compress == "xz":
        data = lzma.compress(data)
    path.write_bytes(data)
    return path


def test_rotated_files_order(tmp_path):
    for name in ("mail.log", "mail.log.1", "mail.log.2.gz", "mail.log.10.gz", "mail.log.old", "mail.logx", "other.log.1"):
        (tmp_path / name).write_text("")
    assert rotated_files(str(tmp_path / "mail.log")) == [str(tmp_path / n) for n in ("mail.log.10.gz", "mail.log.2.gz", "mail.log.1")]
    for name in ("maillog", "maillog-20261119.gz", "maillog-20261112.gz", "maillog-20261126"):
        (tmp_path / name).write_text("")
    assert rotated_files(str(tmp_path / "maillog")) == [str(tmp_path / n) for n in ("maillog-20261112.gz", "maillog-20261119.gz", "maillog-20261126")]
    assert rotated_files(str(tmp_path / "missing" / "mail.log")) == []


@pytest.mark.parametrize("compress", [None, "gz", "bz2", "xz"])
def test_open_log_compressed(tmp_path, compress):
    text = (FIXTURES / "ghes_inbound.log").read_text()
    path = _write(tmp_path / "mail.log.2", text, compress)
    with open_log(str(path)) as handle:
        assert list(iter_lines(handle)) == text.splitlines()


def test_truncated_gzip_is_a_warning(tmp_path):
    data = gzip.compress(((FIXTURES / "relay_outbound.log").read_text() * 20).encode())
    path = tmp_path / "mail.log.2.gz"
    path.write_bytes(data[: len(data) // 2])
    warnings: list[str] = []
    with open_log(str(path)) as handle:
        lines = list(iter_lines(handle, warnings=warnings, name=str(path)))
    assert lines  # what could be decompressed is used
    assert len(warnings) == 1
    assert "damaged or truncated" in warnings[0]


def test_open_log_missing(tmp_path):
    with pytest.raises(LogSourceError, match="Cannot open"):
        open_log(str(tmp_path / "nope.log"))


def test_overlong_line_is_cut_and_rest_skipped(tmp_path):
    path = tmp_path / "mail.log"
    path.write_text("a" * 100 + "\nshort\n" + "b" * 10 + "\n")
    with open_log(str(path)) as handle:
        assert list(iter_lines(handle, max_line=32)) == ["a" * 32, "short", "b" * 10]


def test_file_tail_partial_line_and_rotation(tmp_path):
    path = tmp_path / "mail.log"
    path.write_text("one\ntw")
    tail = FileTail(str(path))
    assert list(tail.read_lines(follow=True)) == ["one"]
    with path.open("a") as fh:
        fh.write("o\nthree")
    assert list(tail.read_lines(follow=True)) == ["two"]
    # logrotate: the file is moved away and a new one is created
    path.rename(tmp_path / "mail.log.1")
    path.write_text("four\n")
    assert list(tail.read_lines(follow=True)) == ["three", "four"]
    # copytruncate: the file shrinks
    path.write_text("")
    assert list(tail.read_lines(follow=True)) == []
    path.write_text("five\n")
    assert list(tail.read_lines(follow=True)) == ["five"]
    assert tail.flush() is None
    tail.close()


# --------------------------------------------------------------------------------------------------
# postqueue -j and since


POSTQUEUE_OUTPUT = "\n".join(
    json.dumps(entry)
    for entry in (
        {
            "queue_name": "deferred",
            "queue_id": "E5F6A7B8C9",
            "arrival_time": 1795683600,
            "message_size": 1600,
            "forced_expire": False,
            "sender": "noreply@ghe.example.test",
            "recipients": [{"address": "erin@example.org", "delay_reason": "SASL authentication failed; server relay.lab.test[10.0.0.2] said: 535 5.7.8 nope"}],
        },
        {
            "queue_name": "active",
            "queue_id": "F6A7B8C9DA",
            "arrival_time": 1795683602,
            "message_size": 1600,
            "sender": "",
            "recipients": [{"address": "frank@example.org"}],
        },
    )
)


def test_parse_postqueue_json():
    entries = [entry.to_dict() for entry in parse_postqueue_json([*POSTQUEUE_OUTPUT.splitlines(), ""])]
    assert entries[0] == {
        "queue_id": "E5F6A7B8C9",
        "queue_name": "deferred",
        "arrival_time": "2026-11-26T09:00:00+00:00",
        "message_size": 1600,
        "forced_expire": False,
        "from": "noreply@ghe.example.test",
        "recipients": [
            {
                "address": "erin@example.org",
                "delay_reason": "SASL authentication failed; server relay.lab.test[10.0.0.2] said: 535 5.7.8 nope",
                "diagnosis": entries[0]["recipients"][0]["diagnosis"],
            }
        ],
    }
    assert entries[0]["recipients"][0]["diagnosis"]["code"] == "auth_failed"
    assert entries[1]["recipients"] == [{"address": "frank@example.org", "delay_reason": None, "diagnosis": None}]


@pytest.mark.parametrize(("output", "match"), [("not json", "line 1 is not JSON"), ('{"a": 1}', "line 1 is not a queue entry"), ("[]", "not a queue entry")])
def test_parse_postqueue_json_errors(output, match):
    with pytest.raises(QueueParseError, match=match):
        parse_postqueue_json([output])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2h", REF - dt.timedelta(hours=2)),
        ("30m", REF - dt.timedelta(minutes=30)),
        ("1d12h", REF - dt.timedelta(hours=36)),
        ("45 s", REF - dt.timedelta(seconds=45)),
        ("1w", REF - dt.timedelta(days=7)),
        ("2026-11-26T14:00:00", dt.datetime(2026, 11, 26, 14, 0, tzinfo=UTC)),
        ("2026-11-26 14:00", dt.datetime(2026, 11, 26, 14, 0, tzinfo=UTC)),
        ("2026-11-26T14:00:00+01:00", dt.datetime(2026, 11, 26, 13, 0, tzinfo=UTC)),
        ("2026-11-26", dt.datetime(2026, 11, 26, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_since(value, expected):
    assert parse_since(value, now=REF, tz=UTC) == expected


@pytest.mark.parametrize("value", ["yesterday", "2h ago", "2026-13-01", "-5m", ""])
def test_parse_since_invalid(value):
    with pytest.raises(InvalidQuery, match="Cannot parse since"):
        parse_since(value, now=REF, tz=UTC)


# --------------------------------------------------------------------------------------------------
# run_query: sources, queue, waiting


def _set_mtime(path: Path, when: dt.datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def test_run_query_rotated_files(tmp_path):
    base = tmp_path / "mail.log"
    _write(tmp_path / "mail.log.2.gz", (FIXTURES / "expired.log").read_text(), "gz")
    _write(tmp_path / "mail.log.1", (FIXTURES / "relay_outbound.log").read_text())
    _write(base, (FIXTURES / "discard.log").read_text())
    for path in tmp_path.iterdir():
        _set_mtime(path, REF)
    result, warnings = run_query(LogQuery(paths=[str(base)], include_rotated=True, tz=UTC), FakeRunner(), now=REF)
    assert warnings == []
    assert result["summary"]["sources"] == [str(tmp_path / "mail.log.2.gz"), str(tmp_path / "mail.log.1"), str(base)]
    assert [m["queue_id"] for m in result["messages"]] == [
        "7A8B9C0D1E", "A1B2C3D4E5", "B2C3D4E5F6", "D4E5F6A7B8", "1F2E3D4C5B", "E5F6A7B8C9", "F6A7B8C9DA", "2A3B4C5D6E",
    ]  # fmt: skip
    assert result["summary"]["by_status"] == {"sent": 2, "deferred": 2, "bounced": 1, "expired": 1, "discarded": 2, "queued": 0}
    assert result["summary"]["lines_read"] == 8 + 29 + 10
    # without include_rotated only the current file is read
    result, _warnings = run_query(LogQuery(paths=[str(base)], tz=UTC), FakeRunner(), now=REF)
    assert result["summary"]["sources"] == [str(base)]
    assert result["summary"]["messages"] == 2


def test_run_query_since_skips_old_rotated_files(tmp_path):
    base = _write(tmp_path / "mail.log", (FIXTURES / "relay_outbound.log").read_text())
    old = _write(tmp_path / "mail.log.1", (FIXTURES / "expired.log").read_text())
    _set_mtime(base, REF)
    _set_mtime(old, dt.datetime(2026, 11, 26, 8, 0, 5, tzinfo=UTC))
    query = LogQuery(paths=[str(base)], include_rotated=True, since=dt.datetime(2026, 11, 26, 9, 10, tzinfo=UTC), tz=UTC)
    result, _warnings = run_query(query, FakeRunner(), now=REF)
    assert result["summary"]["sources"] == [str(base)]
    assert [m["queue_id"] for m in result["messages"]] == ["D4E5F6A7B8", "E5F6A7B8C9", "F6A7B8C9DA"]
    assert result["summary"]["since"] == "2026-11-26T09:10:00+00:00"


def test_run_query_limit_and_rejects(tmp_path):
    path = _write(tmp_path / "mail.log", (FIXTURES / "relay_outbound.log").read_text() + (FIXTURES / "rejects.log").read_text())
    _set_mtime(path, REF)
    result, _warnings = run_query(LogQuery(paths=[str(path)], limit=2, tz=UTC), FakeRunner(), now=REF)
    assert [m["queue_id"] for m in result["messages"]] == ["E5F6A7B8C9", "F6A7B8C9DA"]
    assert [r["to"] for r in result["rejects"]] == ["reply@reply.ghe.example.test", "reply@reply.ghe.example.test"]
    assert result["summary"]["messages"] == 5
    assert result["summary"]["rejects"] == 5
    assert result["summary"]["truncated"] is True
    result, _warnings = run_query(LogQuery(paths=[str(path)], recipient="user@example.org", tz=UTC), FakeRunner(), now=REF)
    assert result["messages"] == []
    assert [r["code"] for r in result["rejects"]] == [554]


def test_run_query_missing_file(tmp_path):
    with pytest.raises(LogSourceError, match="Log file not found"):
        run_query(LogQuery(paths=[str(tmp_path / "nope.log")]), FakeRunner())


def test_run_query_auto_prefers_postconf_maillog_file(tmp_path, monkeypatch):
    maillog = _write(tmp_path / "postfix.log", (FIXTURES / "short_iso.log").read_text())
    monkeypatch.setattr(pl, "DEFAULT_LOG_FILES", (str(_write(tmp_path / "mail.log", "")),))
    runner = FakeRunner({"postconf": (0, f"{maillog}\n", "")})
    result, _warnings = run_query(LogQuery(), runner, now=REF)
    assert runner.calls == [["/usr/bin/postconf", "-h", "maillog_file"]]
    assert result["summary"]["sources"] == [str(maillog)]
    assert [m["queue_id"] for m in result["messages"]] == ["5E6F7A8B9C"]


def test_run_query_auto_falls_back_to_default_file_then_journald(tmp_path, monkeypatch):
    default = _write(tmp_path / "maillog", (FIXTURES / "ghes_inbound.log").read_text())
    monkeypatch.setattr(pl, "DEFAULT_LOG_FILES", (str(tmp_path / "mail.log"), str(default)))
    result, _warnings = run_query(LogQuery(), FakeRunner({"postconf": (0, "\n", "")}), now=REF)
    assert result["summary"]["sources"] == [str(default)]

    monkeypatch.setattr(pl, "DEFAULT_LOG_FILES", (str(tmp_path / "mail.log"),))
    journal = (FIXTURES / "journal.json").read_text()
    runner = FakeRunner({"journalctl": (0, journal, "")})
    result, _warnings = run_query(LogQuery(since=dt.datetime(2026, 11, 26, 13, 0, tzinfo=UTC)), runner, now=REF)
    assert runner.calls == [["/usr/bin/journalctl", "-o", "json", "--no-pager", "-q", "SYSLOG_FACILITY=2", "--since=@1795698000"]]
    assert result["summary"]["sources"] == ["journald"]
    assert result["summary"]["lines_read"] == 7
    assert result["summary"]["lines_parsed"] == 6
    assert [m["queue_id"] for m in result["messages"]] == ["6A7B8C9D0E"]
    assert result["rejects"][0]["client"] == "unknown[203.0.113.7]"

    with pytest.raises(LogSourceError, match="journalctl is not available"):
        run_query(LogQuery(), FakeRunner(), now=REF)
    with pytest.raises(LogSourceError, match="No Postfix log file found"):
        run_query(LogQuery(source="file"), FakeRunner(), now=REF)
    with pytest.raises(LogSourceError, match="journalctl failed"):
        run_query(LogQuery(source="journald"), FakeRunner({"journalctl": (1, "", "No journal files were found.")}), now=REF)


@pytest.mark.parametrize(
    ("query", "queue_ids", "warning"),
    [
        ({}, ["E5F6A7B8C9", "F6A7B8C9DA"], None),
        ({"queue_id": "F6A7B8C9DA"}, ["F6A7B8C9DA"], None),
        ({"recipient": "erin@example.org"}, ["E5F6A7B8C9"], None),
        ({"message_id": "notif-5@ghe.example.test"}, ["F6A7B8C9DA"], None),
        ({"message_id": "absent@example"}, [], None),
    ],
)
def test_run_query_include_queue(tmp_path, query, queue_ids, warning):
    path = _write(tmp_path / "mail.log", (FIXTURES / "relay_outbound.log").read_text())
    runner = FakeRunner({"postqueue": (0, POSTQUEUE_OUTPUT, "")})
    result, warnings = run_query(LogQuery(paths=[str(path)], include_queue=True, tz=UTC, **query), runner, now=REF)
    assert [entry["queue_id"] for entry in result["queue"]] == queue_ids
    assert result["summary"]["queue"] == len(queue_ids)
    assert warnings == []


@pytest.mark.parametrize(
    ("commands", "warning"),
    [
        ({}, "postqueue is not installed"),
        ({"postqueue": (69, "", "postqueue: fatal: Queue report unavailable - mail system is down")}, "postqueue -j failed (rc=69): postqueue: fatal"),
        ({"postqueue": (0, "garbage", "")}, "postqueue -j line 1 is not JSON"),
    ],
)
def test_run_query_queue_problems_are_warnings(tmp_path, commands, warning):
    path = _write(tmp_path / "mail.log", "")
    result, warnings = run_query(LogQuery(paths=[str(path)], include_queue=True), FakeRunner(commands), now=REF)
    assert result["queue"] == []
    assert len(warnings) == 1
    assert warnings[0].startswith(warning)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_for_final_follows_file(tmp_path):
    path = tmp_path / "mail.log"
    lines = (FIXTURES / "relay_outbound.log").read_text().splitlines(keepends=True)
    first = [line for line in lines if "D4E5F6A7B8" in line][:5]
    rest = [line for line in lines if "D4E5F6A7B8" in line][5:]
    path.write_text("".join(first) + rest[0][:40])  # the writer is in the middle of a line
    clock = FakeClock()
    pending = [rest[0][40:], "".join(rest[1:])]

    def sleep(seconds):
        clock.sleep(seconds)
        if pending:
            with path.open("a") as fh:
                fh.write(pending.pop(0))

    query = LogQuery(paths=[str(path)], queue_id="D4E5F6A7B8", wait_for_final=True, timeout=30, poll_interval=2, tz=UTC)
    result, _warnings = run_query(query, FakeRunner(), now=REF, clock=clock, sleep=sleep)
    assert clock.sleeps == [2, 2]
    assert [(m["queue_id"], m["status"], m["final"]) for m in result["messages"]] == [("D4E5F6A7B8", "sent", True)]
    assert result["messages"][0]["recipients"][0]["attempts"] == 2


def test_wait_for_final_timeout(tmp_path):
    path = _write(tmp_path / "mail.log", (FIXTURES / "relay_outbound.log").read_text())
    clock = FakeClock()
    query = LogQuery(paths=[str(path)], message_id="<notif-4@ghe.example.test>", wait_for_final=True, timeout=5, poll_interval=2, tz=UTC)
    with pytest.raises(WaitTimeout) as excinfo:
        run_query(query, FakeRunner(), now=REF, clock=clock, sleep=clock.sleep)
    assert str(excinfo.value) == "Timeout after 5s waiting for a final status of message_id=notif-4@ghe.example.test (last status: deferred)"
    assert clock.sleeps == [2, 2, 1]
    assert [m["queue_id"] for m in excinfo.value.result["messages"]] == ["E5F6A7B8C9"]
    assert excinfo.value.result["messages"][0]["diagnosis"]["code"] == "auth_failed"


def test_wait_for_final_journald_uses_cursor():
    journal_lines = (FIXTURES / "journal.json").read_text().splitlines()
    outputs = ["\n".join(journal_lines[:4]), "\n".join(journal_lines[4:])]
    calls = []

    def journalctl(args):
        calls.append(args)
        return 0, outputs.pop(0) if outputs else "", ""

    clock = FakeClock()
    query = LogQuery(source="journald", queue_id="6A7B8C9D0E", wait_for_final=True, timeout=10, poll_interval=1)
    result, _warnings = run_query(query, FakeRunner({"journalctl": journalctl}), now=REF, clock=clock, sleep=clock.sleep)
    assert calls[1][-1] == "--after-cursor=s=abc;i=4"
    assert result["messages"][0]["status"] == "sent"


def test_wait_for_final_needs_a_message():
    with pytest.raises(InvalidQuery, match="needs queue_id or message_id"):
        run_query(LogQuery(wait_for_final=True, recipient="a@b"), FakeRunner())


# --------------------------------------------------------------------------------------------------
# Streaming: a 50 MB log with constant memory

_BIG_TEMPLATE = (
    "Nov 26 {ts} appliance postfix/smtpd[{pid}]: connect from mail-{n}.outbound.protection.example.net[10.{a}.{b}.{c}]\n"
    "Nov 26 {ts} appliance postfix/smtpd[{pid}]: {q}: client=mail-{n}.outbound.protection.example.net[10.{a}.{b}.{c}]\n"
    "Nov 26 {ts} appliance postfix/cleanup[{pid2}]: {q}: message-id=<CAKx{n:08d}Fq9ZuXwNotification{q}@mail.ghe.example.test>\n"
    "Nov 26 {ts} appliance postfix/qmgr[2000]: {q}: from=<noreply@ghe.example.test>, size={size}, nrcpt=1 (queue active)\n"
    "Nov 26 {ts} appliance postfix/smtp[{pid3}]: Verified TLS connection established to relay.lab.test[10.0.0.2]:587: "
    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256\n"
    "Nov 26 {ts} appliance postfix/smtp[{pid3}]: {q}: to=<user{n}@example.org>, relay=relay.lab.test[10.0.0.2]:587, "
    "delay=0.9, delays=0.05/0.01/0.6/0.24, dsn={dsn}, status={status} ({reply})\n"
    "Nov 26 {ts} appliance postfix/qmgr[2000]: {q}: removed\n"
    "Nov 26 {ts} appliance postfix/smtpd[{pid}]: disconnect from mail-{n}.outbound.protection.example.net[10.{a}.{b}.{c}] "
    "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7\n"
)
_SENT = ("2.0.0", "sent", "250 2.0.0 Ok: queued as 4F00DBA1C2")
_BOUNCED = ("5.1.1", "bounced", "host relay.lab.test[10.0.0.2] said: 550 5.1.1 <x@example.org>: Recipient address rejected (in reply to RCPT TO command)")


def _generate_big_log(path: Path, size: int) -> int:
    count = written = 0
    with path.open("w") as fh:
        while written < size:
            chunk = []
            for _index in range(500):
                second = count % 86400
                dsn, status, reply = _BOUNCED if count % 97 == 0 else _SENT
                chunk.append(
                    _BIG_TEMPLATE.format(
                        ts=f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}",
                        pid=1000 + count % 50,
                        pid2=2000 + count % 7,
                        pid3=3000 + count % 20,
                        n=count,
                        a=count % 250,
                        b=count % 200,
                        c=count % 100,
                        q=f"{count:010X}",
                        size=1000 + count % 9000,
                        dsn=dsn,
                        status=status,
                        reply=reply,
                    )
                )
                count += 1
            data = "".join(chunk)
            fh.write(data)
            written += len(data)
    return count


def test_50mb_log_streams_in_bounded_memory(tmp_path):
    path = tmp_path / "mail.log"
    count = _generate_big_log(path, 50 * 1000 * 1000)
    assert path.stat().st_size >= 50 * 1000 * 1000
    os.utime(path, (REF.timestamp(), REF.timestamp()))
    target = f"{count - 3:010X}"
    started = time.monotonic()
    tracemalloc.start()
    try:
        result, warnings = run_query(LogQuery(paths=[str(path)], queue_id=target, tz=UTC), FakeRunner(), now=REF)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    assert warnings == []
    assert result["summary"]["lines_read"] == count * 8
    assert [m["queue_id"] for m in result["messages"]] == [target]
    assert result["messages"][0]["message_id"].endswith(f"{target}@mail.ghe.example.test")
    assert peak < 4 * 1024 * 1024, f"peak memory {peak} bytes while reading a {path.stat().st_size} byte log"
    assert elapsed < 60


def test_50mb_log_default_limit_counts_everything(tmp_path):
    """Without filters the newest 100 records are kept; the counts cover the whole file."""
    path = tmp_path / "mail.log"
    count = _generate_big_log(path, 5 * 1000 * 1000)
    result, _warnings = run_query(LogQuery(paths=[str(path)], tz=UTC), FakeRunner(), now=REF)
    bounced = len(range(0, count, 97))
    assert result["summary"]["messages"] == count
    assert result["summary"]["by_status"]["bounced"] == bounced
    assert result["summary"]["by_status"]["sent"] == count - bounced
    assert len(result["messages"]) == 100
    assert result["messages"][-1]["queue_id"] == f"{count - 1:010X}"
    assert result["summary"]["truncated"] is True


def test_copy_of_fixture_dir_is_untouched(tmp_path):
    """Reading never writes: the fixture directory is byte-identical afterwards."""
    copy = tmp_path / "logs"
    shutil.copytree(FIXTURES, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    for name in before:
        run_query(LogQuery(paths=[str(copy / name)], include_rotated=True, tz=UTC), FakeRunner(), now=REF)
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before


# --------------------------------------------------------------------------------------------------
# Paths that are not regular files, endless lines, option ranges


@pytest.fixture
def fifo(tmp_path):
    """A FIFO; a watchdog opens it for writing after 5 s, so that a reader that blocks on it (a regression) ends."""
    path = tmp_path / "mail.log"
    os.mkfifo(path)

    def unblock():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # no reader: nothing blocks
            pass

    watchdog = threading.Timer(5, unblock)
    watchdog.start()
    yield path
    watchdog.cancel()


def test_open_log_refuses_a_fifo_without_blocking(fifo):
    started = time.monotonic()
    with pytest.raises(pl.NotARegularFile, match=r"^maillog_file: .*mail\.log is a FIFO \(named pipe\), not a regular file"):
        open_log(str(fifo), "maillog_file")
    assert time.monotonic() - started < 1


def test_open_log_checks_the_opened_file_too(fifo, monkeypatch):
    """A path swapped for a FIFO between the check and the open is still refused, and the open does not block."""
    monkeypatch.setattr(pl, "regular_file", lambda path, option=None: True)
    started = time.monotonic()
    with pytest.raises(pl.NotARegularFile, match="is a FIFO"):
        open_log(str(fifo))
    assert time.monotonic() - started < 1


def test_regular_file():
    assert pl.regular_file(str(FIXTURES / "ghes_inbound.log")) is True
    assert pl.regular_file(str(FIXTURES / "no-such.log")) is False
    with pytest.raises(pl.NotARegularFile, match=r"^path: /dev/zero is a character device, not a regular file"):
        pl.regular_file("/dev/zero", "path")
    with pytest.raises(pl.NotARegularFile, match="is a directory"):
        pl.regular_file(str(FIXTURES))
    with pytest.raises(LogSourceError, match="Cannot read"):
        pl.regular_file(str(FIXTURES / "ghes_inbound.log" / "x"))


def test_run_query_skips_a_default_file_that_is_not_regular(tmp_path, fifo, monkeypatch):
    default = _write(tmp_path / "maillog", (FIXTURES / "ghes_inbound.log").read_text())
    monkeypatch.setattr(pl, "DEFAULT_LOG_FILES", (str(fifo), str(default)))
    result, warnings = run_query(LogQuery(), FakeRunner(), now=REF)
    assert result["summary"]["sources"] == [str(default)]
    assert warnings == [f"{fifo} is a FIFO (named pipe), not a regular file; give the path of a log file (a symlink to one is fine): skipped"]


def test_a_line_of_hundreds_of_megabytes_is_read_in_pieces_and_dropped(tmp_path):
    """No newline for 300 MB (a sparse file): constant memory, and neither its start nor its tail is taken for a line."""
    path = tmp_path / "mail.log"
    good = (FIXTURES / "ghes_inbound.log").read_text()
    with path.open("wb") as fh:
        fh.write(good.encode())
        fh.seek(300 * 1024 * 1024 + 12345, os.SEEK_CUR)  # NUL bytes, not a multiple of the read size
        fh.write(b"tail of the endless line")
    os.utime(path, (REF.timestamp(), REF.timestamp()))
    tracemalloc.start()
    try:
        result, warnings = run_query(LogQuery(paths=[str(path)], tz=UTC), FakeRunner(), now=REF)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert warnings == []
    assert result["summary"]["lines_read"] == len(good.splitlines())
    assert [m["queue_id"] for m in result["messages"]] == ["51DC9163323"]
    assert peak < 4 * 1024 * 1024, f"peak memory {peak} bytes"


def test_file_tail_drops_an_overlong_line_that_ends_later(tmp_path):
    path = tmp_path / "mail.log"
    path.write_text("one\n" + "x" * 100)
    tail = FileTail(str(path), max_line=32)
    assert list(tail.read_lines(follow=True)) == ["one"]
    with path.open("a") as fh:
        fh.write("y" * 10)  # still the same overlong line
    assert list(tail.read_lines(follow=True)) == []
    with path.open("a") as fh:
        fh.write("z\ntwo\nthr")
    assert list(tail.read_lines(follow=True)) == ["two"]
    assert tail.flush() == "thr"
    tail.close()


def test_file_tail_flush_does_not_return_the_tail_of_an_overlong_line(tmp_path):
    path = tmp_path / "mail.log"
    path.write_text("one\n" + "x" * 100)
    tail = FileTail(str(path), max_line=32)
    assert list(tail.read_lines()) == ["one"]
    assert tail.flush() is None
    tail.close()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"limit": -1}, "limit must be an integer from 0 to 1000000 (0 returns all), got -1"),
        ({"limit": 1.5}, "limit must be an integer from 0 to 1000000 (0 returns all), got 1.5"),
        ({"limit": True}, "limit must be an integer from 0 to 1000000 (0 returns all), got True"),
        ({"timeout": -0.1}, "timeout must be a number from 0 to 86400 seconds, got -0.1"),
        ({"timeout": float("nan")}, "timeout must be a number from 0 to 86400 seconds, got nan"),
        ({"poll_interval": 0.01}, "poll_interval must be a number from 0.05 to 3600 seconds, got 0.01"),
        ({"poll_interval": 3601}, "poll_interval must be a number from 0.05 to 3600 seconds, got 3601"),
        ({"paths": [""]}, "path must not contain an empty path"),
        (
            {"paths": ["/var/log/mail.log\v"]},
            'path "/var/log/mail.log\\u000b" contains a line break (U+000B) at position 17; it must be one line of printable characters',
        ),
        ({"queue_id": "x" * 65}, "is not a Postfix queue id: letters and digits only, at most 64"),
        ({"recipient": "a" * 1001}, "recipient is longer than 1000 characters"),
        ({"statuses": ["lost"]}, "status lost is not one of sent, deferred, bounced, expired, discarded, queued"),
        ({"source": "syslog"}, "source must be auto, journald or file, got 'syslog'"),
    ],
)
def test_validate_query(fields, message):
    with pytest.raises(InvalidQuery) as raised:
        pl.validate_query(LogQuery(**fields))
    assert str(raised.value).endswith(message) if fields.get("queue_id") else str(raised.value) == message
    runner = FakeRunner({"postconf": (0, "/var/log/mail.log\n", ""), "journalctl": (0, "", "")})
    with pytest.raises(InvalidQuery):
        run_query(LogQuery(**fields), runner, now=REF)
    assert runner.calls == []  # nothing was run before the options were checked


def test_validate_query_accepts_the_edges():
    for fields in ({"limit": 0}, {"limit": 1000000}, {"timeout": 0}, {"timeout": 86400.0}, {"poll_interval": 0.05}, {"queue_id": "4Ld1XQ0Zbkz1xpQ"}):
        pl.validate_query(LogQuery(**fields))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("36601d", "since='36601d' reaches back more than 100 years"),
        ("9" * 30 + "w", "reaches back more than 100 years"),
        ("2026-11-26T14:00:00+24:00", "Cannot parse since="),
        ("2026-11-28T15:00:01+00:00", "since='2026-11-28T15:00:01+00:00' is in the future (2026-11-28T15:00:01+00:00); it would match nothing"),
        ("\u0662h", "Cannot parse since="),  # an Arabic-Indic digit is not a duration
        ("2h\r", 'since "2h\\r" contains a line break (U+000D) at position 2'),
        ("2h\x0c", 'since "2h\\f" contains a line break (U+000C) at position 2'),
        ("\x1c2h", 'since "\\u001c2h" contains a line break (U+001C) at position 0'),
        ("2h\x1b", 'since "2h\\u001b" contains a control character (U+001B) at position 2'),
    ],
)
def test_parse_since_out_of_range(value, message):
    with pytest.raises(InvalidQuery) as raised:
        parse_since(value, now=REF, tz=UTC)
    assert str(raised.value).startswith(message) or message in str(raised.value)
