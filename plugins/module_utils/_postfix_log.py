# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Streaming parser for Postfix logs and the ``postqueue -j`` queue listing.

The parser reads one line at a time and keeps state only for messages that are still in flight
(bounded by ``max_open``): a message is handed out as soon as Postfix logs ``removed`` for it,
so memory does not grow with the size of the log.

Accepted input, mixed freely, one record per line:

* classic syslog: ``Nov 26 14:02:03 host postfix/smtp[123]: text`` (no year: it is inferred);
* ISO-8601 / RFC 3339 prefixes (rsyslog high precision, ``journalctl -o short-iso``/``short-iso-precise``);
* ``journalctl -o json`` objects.

Files may be plain, gzip, bzip2 or xz compressed (detected by their magic bytes), rotated
(``mail.log.1``, ``mail.log.2.gz``, ``maillog-20261120.gz``) and truncated.
"""

from __future__ import annotations

import bz2
import collections
import datetime as _dt
import gzip
import io
import json
import math
import os
import re
import stat
import time
import typing as t
import zlib
from dataclasses import dataclass, field

from ansible_collections.mailops.notify.plugins.module_utils._diagnosis import CATALOGUE, diagnose_reply, diagnose_text
from ansible_collections.mailops.notify.plugins.module_utils._text import forbidden_character, shown

try:
    import lzma
except ImportError:  # pragma: no cover - Python built without liblzma
    lzma = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_LOG_FILES",
    "FINAL_STATUSES",
    "LIMITS",
    "MESSAGE_STATUSES",
    "CommandRunner",
    "FileTail",
    "InvalidQuery",
    "LogFilter",
    "LogLine",
    "LogQuery",
    "LogSourceError",
    "MessageRecord",
    "NotARegularFile",
    "PostfixLogError",
    "PostfixLogParser",
    "QueueEntry",
    "QueueParseError",
    "RecipientRecord",
    "RejectRecord",
    "ResultCollector",
    "WaitTimeout",
    "iter_lines",
    "open_log",
    "parse_journal_json",
    "parse_line",
    "parse_postqueue_json",
    "parse_since",
    "parse_syslog_line",
    "regular_file",
    "rotated_files",
    "run_query",
    "validate_query",
]

MESSAGE_STATUSES = ("sent", "deferred", "bounced", "expired", "discarded", "queued")
FINAL_STATUSES = frozenset(("sent", "bounced", "expired", "discarded"))
DEFAULT_LOG_FILES = ("/var/log/mail.log", "/var/log/maillog")
MAX_LINE = 64 * 1024
MAX_OPEN = 10000
# The ranges of the numeric options (inclusive). ``since`` as a duration reaches back at most 100 years.
LIMITS = {
    "limit": (0, 1000000),
    "timeout": (0, 86400),
    "poll_interval": (0.05, 3600),
    "since": (0, 100 * 366 * 86400),
}


class PostfixLogError(Exception):
    """Base class of the errors of this module."""


class LogSourceError(PostfixLogError):
    """A log source cannot be found or read."""


class NotARegularFile(LogSourceError):
    """A log path names a directory, a device, a FIFO or a socket: reading it could block or never end."""

    def __init__(self, path: str, kind: str, option: str | None = None) -> None:
        where = f"{option}: " if option else ""
        super().__init__(f"{where}{path} is {kind}, not a regular file; give the path of a log file (a symlink to one is fine)")
        self.path = path
        self.kind = kind


class InvalidQuery(PostfixLogError):
    """A query parameter is invalid (for example an unparsable ``since``)."""


class QueueParseError(PostfixLogError):
    """The output of ``postqueue -j`` is not what was expected."""


class WaitTimeout(PostfixLogError):
    """``wait_for_final`` ran out of time. ``result`` holds what was found so far."""

    def __init__(self, message: str, result: dict[str, t.Any]) -> None:
        super().__init__(message)
        self.result = result


# --------------------------------------------------------------------------------------------------
# Line prefixes

_MONTHS = {name: index for index, name in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_ISO_TS = r"(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d(?::?\d\d)?)?)"
_BSD_TS = r"(?P<bsd>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d)(?:\.\d+)?"
_PREFIX_RE = re.compile(r"^(?:<\d{1,3}>)?(?:" + _ISO_TS + "|" + _BSD_TS + r") (?P<host>\S+) (?P<tag>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<text>.*)$")
_ISO_PARTS_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?\s*(Z|[+-]\d\d(?::?\d\d)?)?$")


class LogLine(t.NamedTuple):
    """One syslog/journal record of a Postfix program."""

    timestamp: t.Optional[_dt.datetime]  # NamedTuple annotations are evaluated on Python < 3.10
    host: t.Optional[str]
    tag: str
    pid: t.Optional[str]
    text: str

    @property
    def program(self) -> str:
        """The Postfix program: the last part of the syslog tag (``smtp`` for ``postfix/submission/smtp``)."""
        return self.tag.rpartition("/")[2]


def _local(naive: _dt.datetime, tz: _dt.tzinfo | None) -> _dt.datetime:
    return naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()


def _parse_iso(value: str, tz: _dt.tzinfo | None) -> _dt.datetime | None:
    match = _ISO_PARTS_RE.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, offset = match.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        naive = _dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro)
    except ValueError:
        return None
    if offset is None:
        return _local(naive, tz)
    if offset == "Z":
        return naive.replace(tzinfo=_dt.timezone.utc)
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    delta = _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    try:
        return naive.replace(tzinfo=_dt.timezone(sign * delta))
    except ValueError:  # an offset of a day or more
        return None


_BSD_LAST: list[t.Any] = [None, None, None, None]  # stamp, reference, tz, result: consecutive lines share their second


def _parse_bsd_cached(stamp: str, reference: _dt.datetime, tz: _dt.tzinfo | None) -> _dt.datetime | None:
    last = _BSD_LAST
    if stamp == last[0] and reference is last[1] and tz is last[2]:
        return last[3]
    result = _parse_bsd(stamp, reference, tz)
    last[:] = [stamp, reference, tz, result]
    return result


def _parse_bsd(stamp: str, reference: _dt.datetime, tz: _dt.tzinfo | None) -> _dt.datetime | None:
    """Classic syslog has no year: take the year that puts the line at most one day after ``reference``."""
    mon, day, hms = stamp.split()
    month = _MONTHS.get(mon)
    if month is None:
        return None
    hour, minute, second = (int(part) for part in hms.split(":"))
    for year in range(reference.year, reference.year - 5, -1):
        try:
            candidate = _local(_dt.datetime(year, month, int(day), hour, minute, second), tz)
        except ValueError:  # Feb 29 outside a leap year, or a garbled day
            continue
        if candidate <= reference + _dt.timedelta(days=1):
            return candidate
    return None


def _is_postfix_tag(tag: str) -> bool:
    # postfix/smtp, postfix/submission/smtpd, postfix-out/qmgr (multi-instance syslog_name), postfix (master)
    return "/" in tag or tag.startswith("postfix")


def parse_syslog_line(line: str, *, reference: _dt.datetime | None = None, tz: _dt.tzinfo | None = None) -> LogLine | None:
    """Parse one syslog-formatted line (classic or ISO timestamp). Return None for lines that are not Postfix's."""
    match = _PREFIX_RE.match(line.rstrip("\r\n"))
    if match is None:
        return None
    iso, bsd, host, tag, pid, text = match.groups()
    if "/" not in tag and not tag.startswith("postfix"):
        return None
    if iso:
        timestamp = _parse_iso(iso, tz)
    else:
        ref = reference if reference is not None else _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
        timestamp = _parse_bsd_cached(bsd, ref, tz)
    return LogLine(timestamp, host, tag, pid, text)


def _journal_value(value: t.Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):  # journald exports non-UTF-8 fields as byte arrays
        try:
            return bytes(value).decode("utf-8", "replace")
        except (TypeError, ValueError):
            return None
    return str(value)


def parse_journal_json(line: str) -> tuple[LogLine | None, str | None]:
    """Parse one ``journalctl -o json`` object. Return (line or None, cursor or None)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None, None
    if not isinstance(entry, dict):
        return None, None
    cursor = _journal_value(entry.get("__CURSOR"))
    tag = _journal_value(entry.get("SYSLOG_IDENTIFIER")) or ""
    text = _journal_value(entry.get("MESSAGE"))
    if not tag or text is None or not _is_postfix_tag(tag):
        return None, cursor
    timestamp = None
    realtime = _journal_value(entry.get("__REALTIME_TIMESTAMP"))
    if realtime and realtime.isdigit():
        timestamp = _dt.datetime.fromtimestamp(int(realtime) / 1e6, _dt.timezone.utc)
    pid = _journal_value(entry.get("SYSLOG_PID") or entry.get("_PID"))
    return LogLine(timestamp, _journal_value(entry.get("_HOSTNAME")), tag, pid or None, text), cursor


def parse_line(line: str, *, reference: _dt.datetime | None = None, tz: _dt.tzinfo | None = None) -> LogLine | None:
    """Parse a line in any accepted format (syslog prefix or journal JSON)."""
    if line.startswith("{"):
        return parse_journal_json(line)[0]
    return parse_syslog_line(line, reference=reference, tz=tz)


# --------------------------------------------------------------------------------------------------
# Records


@dataclass
class RecipientRecord:
    """The latest delivery attempt for one recipient of a message."""

    address: str
    orig_to: str | None = None
    relay: str | None = None
    delay: float | None = None
    delays: str | None = None
    tls: str | None = None
    tls_connection: dict[str, str] | None = None
    dsn: str | None = None
    status: str = "queued"
    reply: str | None = None
    relay_queue_id: str | None = None
    timestamp: _dt.datetime | None = None
    attempts: int = 0

    def to_dict(self) -> dict[str, t.Any]:
        result = {
            "address": self.address,
            "orig_to": self.orig_to,
            "relay": self.relay,
            "delay": self.delay,
            "delays": self.delays,
            "tls": self.tls,
            "tls_connection": dict(self.tls_connection) if self.tls_connection else None,
            "dsn": self.dsn,
            "status": self.status,
            "reply": self.reply,
            "relay_queue_id": self.relay_queue_id,
            "timestamp": _iso(self.timestamp),
            "attempts": self.attempts,
        }
        if self.status not in ("sent", "deliverable"):
            result["diagnosis"] = _diagnosis_dict(self.reply, fallback=self.status in ("deferred", "bounced", "undeliverable"))
        return result


_REJECT_STAGES = {"RCPT": "rcpt", "MAIL": "mail", "DATA": "data", "END-OF-MESSAGE": "data", "HEADER": "data", "BODY": "data", "CONNECT": "connect"}
_STATUS_RANK = {"bounced": 5, "undeliverable": 5, "deferred": 4, "queued": 3, "discarded": 2, "sent": 1, "deliverable": 1}


@dataclass
class MessageRecord:
    """Everything the log says about one queue file (one queue id)."""

    queue_id: str
    host: str | None = None
    message_id: str | None = None
    sender: str | None = None
    size: int | None = None
    nrcpt: int | None = None
    client: str | None = None
    first_seen: _dt.datetime | None = None
    last_seen: _dt.datetime | None = None
    removed: bool = False
    expired: bool = False
    discard_reason: str | None = None
    bounce_queue_id: str | None = None
    recipients: dict[tuple[str, str | None], RecipientRecord] = field(default_factory=dict)

    def _worst(self) -> RecipientRecord | None:
        worst = None
        for rcpt in self.recipients.values():
            if worst is None or _STATUS_RANK.get(rcpt.status, 0) >= _STATUS_RANK.get(worst.status, 0):
                worst = rcpt
        return worst

    @property
    def status(self) -> str:
        if self.discard_reason is not None:
            return "discarded"
        if self.expired:
            return "expired"
        worst = self._worst()
        if worst is None:
            return "queued"
        if worst.status in ("bounced", "undeliverable"):
            return "bounced"
        if worst.status == "deferred":
            return "deferred"
        pending = self.nrcpt is not None and len(self.recipients) < self.nrcpt and not self.removed
        if pending:
            return "queued"
        if all(rcpt.status == "discarded" for rcpt in self.recipients.values()):
            return "discarded"
        return "sent"

    @property
    def final(self) -> bool:
        """True when the message left the queue (or never entered it)."""
        return self.removed or self.discard_reason is not None

    @property
    def reply(self) -> str | None:
        if self.discard_reason is not None:
            return self.discard_reason
        worst = self._worst()
        if worst is not None and worst.reply:
            return worst.reply
        if self.expired:
            return "message expired in the queue and was returned to the sender"
        return None

    def to_dict(self) -> dict[str, t.Any]:
        status = self.status
        result = {
            "queue_id": self.queue_id,
            "host": self.host,
            "message_id": self.message_id,
            "from": self.sender,
            "size": self.size,
            "nrcpt": self.nrcpt,
            "client": self.client,
            "status": status,
            "final": self.final,
            "removed": self.removed,
            "reply": self.reply,
            "bounce_queue_id": self.bounce_queue_id,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "recipients": [rcpt.to_dict() for rcpt in self.recipients.values()],
        }
        if status != "sent":
            result["diagnosis"] = _diagnosis_dict(self.reply, fallback=status in ("deferred", "bounced", "expired"))
        return result


@dataclass
class RejectRecord:
    """An smtpd/cleanup/milter reject (``NOQUEUE: reject: RCPT from ...``)."""

    timestamp: _dt.datetime | None
    host: str | None
    program: str
    kind: str
    queue_id: str | None = None
    stage: str | None = None
    client: str | None = None
    code: int | None = None
    dsn: str | None = None
    reply: str | None = None
    sender: str | None = None
    recipient: str | None = None
    helo: str | None = None
    proto: str | None = None
    message_id: str | None = None

    def to_dict(self) -> dict[str, t.Any]:
        diagnosis = None
        code = self.code
        if code is None and self.dsn:  # cleanup and milter rejects log only the enhanced status code
            code = 550 if self.dsn.startswith("5") else 450
        if code is not None:
            stage = _REJECT_STAGES.get(self.stage or "")
            diagnosis = diagnose_reply(code, " ".join(part for part in (self.dsn, self.reply) if part), stage=stage)
        if diagnosis is None:
            diagnosis = diagnose_text(self.reply or "") or CATALOGUE["rejected"]
        return {
            "timestamp": _iso(self.timestamp),
            "host": self.host,
            "program": self.program,
            "kind": self.kind,
            "queue_id": self.queue_id,
            "message_id": self.message_id,
            "stage": self.stage,
            "client": self.client,
            "code": self.code,
            "dsn": self.dsn,
            "reply": self.reply,
            "from": self.sender,
            "to": self.recipient,
            "helo": self.helo,
            "proto": self.proto,
            "diagnosis": diagnosis.as_dict(),
        }


def _iso(value: _dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _diagnosis_dict(text: str | None, *, fallback: bool) -> dict[str, str] | None:
    diagnosis = diagnose_text(text or "")
    if diagnosis is None and fallback:
        diagnosis = CATALOGUE["unknown"]
    return diagnosis.as_dict() if diagnosis is not None else None


# --------------------------------------------------------------------------------------------------
# The parser

_QID_RE = re.compile(r"^(?P<qid>[0-9A-F]{5,}|[0-9A-Za-z]{10,}): (?P<rest>.*)$")
_NOT_QIDS = frozenset(("warning", "fatal", "panic", "error", "statistics", "NOQUEUE", "info", "debug", "message"))
_DELIVERY_RE = re.compile(r"^to=<(?P<to>[^>]*)>(?P<fields>.*?),? status=(?P<status>[A-Za-z-]+)(?: \((?P<reason>.*))?$")
_FIELD_RE = re.compile(r",\s*(?P<key>orig_to|relay|conn_use|delay|delays|tls|dsn)=(?P<value><[^>]*>|[^,]*)")
_QMGR_FROM_RE = re.compile(r"^from=<(?P<from>[^>]*)>(?:, size=(?P<size>\d+))?(?:, nrcpt=(?P<nrcpt>\d+))?(?:, status=(?P<status>[\w-]+))?")
_PICKUP_RE = re.compile(r"^uid=\d+ from=<(?P<from>[^>]*)>")
_CLIENT_RE = re.compile(r"^client=(?P<client>[^,\s]+)")
_MESSAGE_ID_RE = re.compile(r"^message-id=<?(?P<mid>[^>]*)>?")
_NDR_RE = re.compile(r"^(?:sender|postmaster) (?:non-)?delivery(?: status)? notification: (?P<qid>[0-9A-Za-z]+)")
_REJECT_RE = re.compile(r"^(?P<kind>reject|milter-reject|discard): (?P<rest>.*)$")
_REJECT_FROM_RE = re.compile(r"^(?P<stage>[A-Z][A-Z-]*) from (?P<client>[^\s\[]*\[[^\]]*\](?::\d+)?): (?P<text>.*)$")
_REPLY_RE = re.compile(r"^(?P<code>[245]\d\d)(?: (?P<dsn>[245]\.\d{1,3}\.\d{1,3}))? (?P<text>.*)$")
_ENVELOPE_RE = re.compile(r";\s*from=<(?P<from>[^>]*)>(?:,? to=<(?P<to>[^>]*)>)?(?:,? proto=(?P<proto>[^\s,:]+))?(?:,? helo=<(?P<helo>[^>]*)>)?")
_DELIVERY_STATUSES = frozenset(("sent", "deferred", "bounced", "softbounce", "deliverable", "undeliverable"))
_QUEUED_AS_RE = re.compile(r"queued as (?P<qid>[0-9A-Za-z]+)")
_TLS_RE = re.compile(
    r"^(?P<trust>Anonymous|Verified|Trusted|Untrusted) TLS connection (?:established|reused) to (?P<peer>\S+?): "
    r"(?P<protocol>\S+) with cipher (?P<cipher>\S+)(?: \((?P<bits>[\d/]+) bits\))?"
)


class PostfixLogParser:
    """Feed :class:`LogLine` objects; get finished :class:`MessageRecord` and :class:`RejectRecord` objects back.

    Messages are returned when Postfix logs ``removed`` for them, or when more than ``max_open``
    messages are in flight (the oldest is handed out unfinished). :meth:`finish` returns the rest.
    """

    def __init__(self, *, max_open: int = MAX_OPEN) -> None:
        self.max_open = max_open
        self._open: collections.OrderedDict[str, MessageRecord] = collections.OrderedDict()
        self._tls: collections.OrderedDict[tuple[str, str | None], dict[str, str]] = collections.OrderedDict()
        self.lines = 0
        self.incomplete = 0

    def open_messages(self) -> list[MessageRecord]:
        return list(self._open.values())

    def _message(self, qid: str, line: LogLine, *, create: bool = True) -> MessageRecord | None:
        record = self._open.get(qid)
        if record is None:
            if not create:
                return None
            record = MessageRecord(queue_id=qid, host=line.host, first_seen=line.timestamp)
            self._open[qid] = record
        else:
            self._open.move_to_end(qid)
        if line.timestamp is not None:
            record.last_seen = line.timestamp
            if record.first_seen is None:
                record.first_seen = line.timestamp
        return record

    def _evict(self, out: list[t.Any]) -> None:
        while len(self._open) > self.max_open:
            out.append(self._open.popitem(last=False)[1])

    def feed(self, line: LogLine) -> t.Sequence[t.Any]:
        """Process one line; return the records it finished (usually none)."""
        self.lines += 1
        text = line.text
        if text.startswith("NOQUEUE: "):
            reject = self._reject(line, None, text[9:])
            return (reject,) if reject is not None else ()
        match = _QID_RE.match(text)
        if match is None or match.group("qid") in _NOT_QIDS:
            tls = _TLS_RE.match(text)
            if tls is not None:
                self._remember_tls(line, tls)
            return ()
        qid, rest = match.groups()
        out: list[t.Any] = []
        self._dispatch(line, qid, rest, out)
        if len(self._open) > self.max_open:
            self._evict(out)
        return out

    def _remember_tls(self, line: LogLine, match: re.Match) -> None:
        key = (line.tag, line.pid)
        self._tls[key] = {key_: value for key_, value in match.groupdict().items() if value is not None}
        self._tls.move_to_end(key)
        while len(self._tls) > 1024:
            self._tls.popitem(last=False)

    def _dispatch(self, line: LogLine, qid: str, rest: str, out: list[t.Any]) -> None:
        if rest.startswith("to="):
            self._delivery(line, qid, rest)
        elif rest == "removed" or rest.startswith("removed"):
            record = self._message(qid, line)
            record.removed = True
            out.append(self._open.pop(qid))
        elif rest.startswith("from="):
            self._from(line, qid, rest)
        elif rest.startswith("message-id="):
            mid = _MESSAGE_ID_RE.match(rest)
            self._message(qid, line).message_id = mid.group("mid").strip() or None
        elif rest.startswith("client="):
            previous = self._open.get(qid)
            if previous is not None and previous.final:  # queue id reused after a discard
                out.append(self._open.pop(qid))
            client = _CLIENT_RE.match(rest)
            self._message(qid, line).client = client.group("client") if client else None
        elif rest.startswith("uid="):
            previous = self._open.get(qid)
            if previous is not None and previous.final:
                out.append(self._open.pop(qid))
            pickup = _PICKUP_RE.match(rest)
            record = self._message(qid, line)
            if pickup and record.sender is None:
                record.sender = pickup.group("from")
            record.client = record.client or "local"
        else:
            ndr = _NDR_RE.match(rest)
            if ndr is not None:
                self._message(qid, line).bounce_queue_id = ndr.group("qid")
                return
            reject = _REJECT_RE.match(rest)
            if reject is None:
                self._message(qid, line, create=False)  # other notes only refresh last_seen
                return
            if reject.group("kind") == "discard":
                record = self._message(qid, line)
                record.discard_reason = _envelope_free(reject.group("rest"))
                envelope = _ENVELOPE_RE.search(reject.group("rest"))
                if envelope is not None and record.sender is None:
                    record.sender = envelope.group("from")
                return
            record_ = self._reject(line, qid, rest)
            if record_ is None:
                return
            open_record = self._open.get(qid)
            if open_record is not None:
                record_.message_id = open_record.message_id
                if record_.stage not in ("RCPT", "MAIL", None):  # the whole message was refused
                    del self._open[qid]
            out.append(record_)

    def _from(self, line: LogLine, qid: str, rest: str) -> None:
        match = _QMGR_FROM_RE.match(rest)
        if match is None:
            self.incomplete += 1
            return
        record = self._message(qid, line)
        record.sender = match.group("from")
        if match.group("size"):
            record.size = int(match.group("size"))
        if match.group("nrcpt"):
            record.nrcpt = int(match.group("nrcpt"))
        if match.group("status") in ("expired", "force-expired"):
            record.expired = True

    def _delivery(self, line: LogLine, qid: str, rest: str) -> None:
        match = _DELIVERY_RE.match(rest)
        status = match.group("status").lower() if match is not None else None
        if status not in _DELIVERY_STATUSES:  # truncated before or inside the status
            self.incomplete += 1
            self._message(qid, line, create=False)
            return
        fields = {m.group("key"): m.group("value") for m in _FIELD_RE.finditer(match.group("fields"))}
        orig_to = fields.get("orig_to")
        orig_to = orig_to.strip("<>") if orig_to else None
        address = match.group("to")
        record = self._message(qid, line)
        key = (address, orig_to)
        rcpt = record.recipients.get(key)
        if rcpt is None:
            rcpt = record.recipients[key] = RecipientRecord(address=address, orig_to=orig_to)
        reason = match.group("reason")
        if reason is not None and reason.endswith(")"):
            reason = reason[:-1]
        if status == "softbounce":
            status = "deferred"
        if line.program == "discard" and status == "sent":
            status = "discarded"
        rcpt.status = status
        rcpt.reply = reason
        rcpt.relay = fields.get("relay")
        rcpt.delay = _float(fields.get("delay"))
        rcpt.delays = fields.get("delays")
        rcpt.tls = fields.get("tls")
        rcpt.dsn = fields.get("dsn")
        rcpt.timestamp = line.timestamp
        rcpt.attempts += 1
        queued_as = _QUEUED_AS_RE.search(reason or "") if status == "sent" else None
        rcpt.relay_queue_id = queued_as.group("qid") if queued_as else None
        tls = self._tls.get((line.tag, line.pid))
        rcpt.tls_connection = dict(tls) if tls is not None and tls.get("peer") == rcpt.relay else None

    def _reject(self, line: LogLine, qid: str | None, rest: str) -> RejectRecord | None:
        match = _REJECT_RE.match(rest)
        if match is None:
            return None
        record = RejectRecord(timestamp=line.timestamp, host=line.host, program=line.program, kind=match.group("kind"), queue_id=qid)
        body = match.group("rest")
        envelopes = list(_ENVELOPE_RE.finditer(body))
        envelope = envelopes[-1] if envelopes else None
        if envelope is not None:
            record.sender = envelope.group("from")
            record.recipient = envelope.group("to")
            record.proto = envelope.group("proto")
            record.helo = envelope.group("helo")
            tail = body[envelope.end() :]
            body = body[: envelope.start()]
            if tail.startswith(": "):  # cleanup/milter form: "...; from=<> to=<>: 5.7.1 text"
                body = body + ": " + tail[2:]
        origin = _REJECT_FROM_RE.match(body)
        if origin is not None:
            record.stage = origin.group("stage")
            record.client = origin.group("client")
            body = origin.group("text")
        else:
            # cleanup: "header Subject: x from host[addr]: 5.7.1 text" / milter: "END-OF-MESSAGE from ..."
            parts = re.match(r"^(?P<what>.*?) from (?P<client>[^\s\[]*\[[^\]]*\]): (?P<text>.*)$", body)
            if parts is not None:
                record.stage = parts.group("what").split(" ", 1)[0].upper()
                record.client = parts.group("client")
                body = parts.group("text")
        reply = _REPLY_RE.match(body)
        if reply is not None:
            record.code = int(reply.group("code"))
            record.dsn = reply.group("dsn")
            body = reply.group("text")
        else:
            dsn = re.match(r"^(?P<dsn>[245]\.\d{1,3}\.\d{1,3}) (?P<text>.*)$", body)
            if dsn is not None:
                record.dsn = dsn.group("dsn")
                body = dsn.group("text")
        record.reply = body
        return record

    def finish(self) -> list[MessageRecord]:
        """Return the messages still in flight (the end of the log was reached)."""
        rest = list(self._open.values())
        self._open.clear()
        return rest


def _envelope_free(text: str) -> str:
    match = _ENVELOPE_RE.search(text)
    if match is None:
        return text
    tail = text[match.end() :]
    return text[: match.start()] + (tail if tail.startswith(":") else "")


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# Filters and the result collector


def _strip_angle(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value


@dataclass(frozen=True)
class LogFilter:
    """What to return. Empty fields match everything."""

    queue_id: str | None = None
    message_id: str | None = None
    recipient: str | None = None
    since: _dt.datetime | None = None
    statuses: frozenset[str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "message_id", _strip_angle(self.message_id) or None)
        object.__setattr__(self, "recipient", (_strip_angle(self.recipient) or "").lower() or None)

    def _recipient_matches(self, addresses: t.Iterable[str | None]) -> bool:
        return any(address is not None and address.lower() == self.recipient for address in addresses)

    def identity_match(self, message: MessageRecord) -> bool:
        if self.queue_id is not None and message.queue_id != self.queue_id:
            return False
        if self.message_id is not None and message.message_id != self.message_id:
            return False
        if self.recipient is not None:
            addresses = [rcpt.address for rcpt in message.recipients.values()] + [rcpt.orig_to for rcpt in message.recipients.values()]
            if not self._recipient_matches(addresses):
                return False
        return True

    def match_message(self, message: MessageRecord) -> bool:
        if not self.identity_match(message):
            return False
        if self.since is not None and (message.last_seen is None or message.last_seen < self.since):
            return False
        if self.statuses is not None and message.status not in self.statuses:
            return False
        return True

    def match_reject(self, reject: RejectRecord) -> bool:
        if self.queue_id is not None and reject.queue_id != self.queue_id:
            return False
        if self.message_id is not None and reject.message_id != self.message_id:
            return False
        if self.recipient is not None and not self._recipient_matches([reject.recipient]):
            return False
        if self.since is not None and (reject.timestamp is None or reject.timestamp < self.since):
            return False
        return True

    def match_queue(self, entry: QueueEntry) -> bool:
        if self.queue_id is not None and entry.queue_id != self.queue_id:
            return False
        return self.recipient is None or self._recipient_matches(rcpt.get("address") for rcpt in entry.recipients)


class ResultCollector:
    """Keeps the newest ``limit`` matching records (0: no limit) and counts all of them."""

    def __init__(self, log_filter: LogFilter, limit: int = 0) -> None:
        self.filter = log_filter
        maxlen = limit if limit and limit > 0 else None
        self.messages: collections.deque[MessageRecord] = collections.deque(maxlen=maxlen)
        self.rejects: collections.deque[RejectRecord] = collections.deque(maxlen=maxlen)
        self.message_count = 0
        self.reject_count = 0
        self.by_status: dict[str, int] = dict.fromkeys(MESSAGE_STATUSES, 0)

    def add(self, record: t.Any) -> None:
        if isinstance(record, MessageRecord):
            if self.filter.match_message(record):
                self.messages.append(record)
                self.message_count += 1
                status = record.status
                self.by_status[status] = self.by_status.get(status, 0) + 1
        elif isinstance(record, RejectRecord):
            if self.filter.match_reject(record):
                self.rejects.append(record)
                self.reject_count += 1


# --------------------------------------------------------------------------------------------------
# Files


_ROTATED_RE = re.compile(r"^(?:\.(?P<num>\d+)|-(?P<date>\d{8}(?:\d{2})?))(?:\.(?:gz|bz2|xz))?$")


def rotated_files(path: str) -> list[str]:
    """Rotated siblings of ``path`` (``.1``, ``.2.gz``, ``-20261120.gz``), oldest first, ``path`` itself excluded."""
    directory, base = os.path.split(path)
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    found: list[tuple[int, int, str]] = []
    for name in names:
        if not name.startswith(base) or name == base:
            continue
        match = _ROTATED_RE.match(name[len(base) :])
        if match is None:
            continue
        full = os.path.join(directory, name)
        if match.group("num") is not None:
            found.append((1, -int(match.group("num")), full))
        else:
            found.append((0, int(match.group("date")), full))
    return [entry[2] for entry in sorted(found)]


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _file_kind(mode: int) -> str:
    for test, kind in _FILE_KINDS:
        if test(mode):
            return kind
    return "not a regular file"  # pragma: no cover - door files and the like


def regular_file(path: str, option: str | None = None) -> bool:
    """True if ``path`` is a regular file (symlinks followed), False if it does not exist.

    Raise :class:`NotARegularFile` (naming ``option`` when given) for a directory, a device, a FIFO or a socket:
    opening a FIFO blocks until a writer comes, and ``/dev/zero`` never ends.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        where = f"{option}: " if option else ""
        raise LogSourceError(f"{where}Cannot read {path}: {exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise NotARegularFile(path, _file_kind(st.st_mode), option)
    return True


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_regular(path: str, option: str | None) -> t.BinaryIO:
    """Open a regular file for reading; never block on a FIFO, never read a device (checked again on the open file)."""
    regular_file(path, option)  # before open(): opening some devices has effects of its own
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except (OSError, ValueError) as exc:
        raise LogSourceError(f"Cannot open {path}: {exc}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # replaced between the check and the open
            raise NotARegularFile(path, _file_kind(mode), option)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_log(path: str, option: str | None = None) -> t.TextIO:
    """Open a log file as text, decompressing gzip, bzip2 or xz (detected by magic bytes).

    Only regular files are opened (:class:`NotARegularFile` otherwise, naming ``option`` when given).
    """
    raw = _open_regular(path, option)
    try:
        magic = raw.read(6)
        raw.seek(0)
        stream: t.BinaryIO
        if magic[:2] == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        elif magic[:3] == b"BZh":
            stream = bz2.BZ2File(raw, mode="rb")  # type: ignore[assignment]
        elif magic == b"\xfd7zXZ\x00":
            if lzma is None:  # pragma: no cover
                raise LogSourceError(f"Cannot read {path}: Python has no lzma support")
            stream = lzma.LZMAFile(raw, mode="rb")  # type: ignore[assignment]
        else:
            stream = raw
        return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")  # type: ignore[arg-type]
    except Exception:
        raw.close()
        raise


_READ_ERRORS = (EOFError, OSError, zlib.error, ValueError) + ((lzma.LZMAError,) if lzma is not None else ())


def iter_lines(handle: t.TextIO, *, max_line: int = MAX_LINE, warnings: list[str] | None = None, name: str = "") -> t.Iterator[str]:
    """Yield lines without their line ending, at most ``max_line`` characters each (the rest of an overlong line is skipped).

    A compressed file that ends early (truncated ``.gz``) ends the iteration with a warning instead of an error.
    """
    skipping = False
    while True:
        try:
            chunk = handle.readline(max_line)
        except _READ_ERRORS as exc:
            if warnings is not None:
                warnings.append(f"{name or 'log'}: stopped reading, the file is damaged or truncated ({exc})")
            return
        if not chunk:
            return
        complete = chunk.endswith("\n")
        if skipping:
            skipping = not complete
            continue
        if not complete and len(chunk) >= max_line:
            skipping = True
        yield chunk.rstrip("\r\n")


class FileTail:
    """Read a growing log file: complete lines only, the partial last line is kept until it is finished.

    A line longer than ``max_line`` is dropped whole (also when its end is written later), so a file that is one
    line of gigabytes is read in ``max_line`` pieces and never held in memory.
    If the file is replaced (rotation) or shrinks (truncation), the rest of the old file is read and the
    new one is followed from its beginning.
    """

    def __init__(self, path: str, *, max_line: int = MAX_LINE, option: str | None = None) -> None:
        self.path = path
        self.max_line = max_line
        self.option = option
        self._handle = open_log(path, option)
        self._ident = self._stat_ident()
        self._partial = ""
        self._skipping = False

    def _stat_ident(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def _drain(self, warnings: list[str] | None) -> t.Iterator[str]:
        while True:
            try:
                chunk = self._handle.readline(self.max_line)
            except _READ_ERRORS as exc:
                if warnings is not None:
                    warnings.append(f"{self.path}: stopped reading ({exc})")
                return
            if not chunk:
                return
            complete = chunk.endswith("\n")
            if self._skipping:  # the rest of an overlong line
                self._skipping = not complete
                continue
            if not complete:
                if len(self._partial) + len(chunk) >= self.max_line:
                    self._skipping = True
                    self._partial = ""
                else:
                    self._partial += chunk
                continue
            line, self._partial = self._partial + chunk, ""
            yield line.rstrip("\r\n")[: self.max_line]

    def read_lines(self, warnings: list[str] | None = None, *, follow: bool = False) -> t.Iterator[str]:
        """Yield the complete lines available now. With ``follow``, also notice rotation and truncation."""
        yield from self._drain(warnings)
        if not follow or not isinstance(getattr(self._handle, "buffer", None), io.BufferedReader):
            return
        ident = self._stat_ident()
        if ident is None:
            return
        try:
            shrunk = os.stat(self.path).st_size < self._handle.buffer.tell()
        except (OSError, ValueError):  # pragma: no cover
            shrunk = False
        if ident != self._ident or shrunk:
            if self._partial:
                yield self._partial.rstrip("\r\n")
                self._partial = ""
            self.close()
            self._handle = open_log(self.path, self.option)
            self._ident = ident
            self._skipping = False
            yield from self._drain(warnings)

    def flush(self) -> str | None:
        """Return the partial last line (the end of the input was reached), if any."""
        partial, self._partial = self._partial, ""
        self._skipping = False
        return partial.rstrip("\r\n") or None

    def close(self) -> None:
        try:
            self._handle.close()
        except OSError:  # pragma: no cover
            pass


def _mtime(path: str) -> _dt.datetime | None:
    try:
        return _dt.datetime.fromtimestamp(os.stat(path).st_mtime, _dt.timezone.utc)
    except OSError:
        return None


# --------------------------------------------------------------------------------------------------
# postqueue -j


@dataclass
class QueueEntry:
    queue_id: str
    queue_name: str | None
    arrival_time: _dt.datetime | None
    message_size: int | None
    forced_expire: bool
    sender: str | None
    recipients: list[dict[str, str | None]]

    def to_dict(self) -> dict[str, t.Any]:
        recipients = []
        for rcpt in self.recipients:
            item: dict[str, t.Any] = {"address": rcpt.get("address"), "delay_reason": rcpt.get("delay_reason")}
            item["diagnosis"] = _diagnosis_dict(rcpt.get("delay_reason"), fallback=False)
            recipients.append(item)
        return {
            "queue_id": self.queue_id,
            "queue_name": self.queue_name,
            "arrival_time": _iso(self.arrival_time),
            "message_size": self.message_size,
            "forced_expire": self.forced_expire,
            "from": self.sender,
            "recipients": recipients,
        }


def parse_postqueue_json(lines: t.Iterable[str]) -> list[QueueEntry]:
    """Parse ``postqueue -j`` output (one JSON object per line)."""
    entries = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise QueueParseError(f"postqueue -j line {number} is not JSON: {exc}") from exc
        if not isinstance(obj, dict) or "queue_id" not in obj:
            raise QueueParseError(f"postqueue -j line {number} is not a queue entry")
        arrival = obj.get("arrival_time")
        recipients = []
        for rcpt in obj.get("recipients") or []:
            if isinstance(rcpt, dict):
                recipients.append({"address": rcpt.get("address"), "delay_reason": rcpt.get("delay_reason")})
        entries.append(
            QueueEntry(
                queue_id=str(obj["queue_id"]),
                queue_name=obj.get("queue_name"),
                arrival_time=_dt.datetime.fromtimestamp(arrival, _dt.timezone.utc) if isinstance(arrival, (int, float)) else None,
                message_size=obj.get("message_size") if isinstance(obj.get("message_size"), int) else None,
                forced_expire=bool(obj.get("forced_expire", False)),
                sender=obj.get("sender"),
                recipients=recipients,
            )
        )
    return entries


# --------------------------------------------------------------------------------------------------
# since

_DURATION_RE = re.compile(r"^(?:(\d+)\s*([smhdw])\s*)+$", re.IGNORECASE | re.ASCII)
_DURATION_PART_RE = re.compile(r"(\d+)\s*([smhdw])", re.IGNORECASE | re.ASCII)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A time after this much from now is refused: a mistake, it would match nothing.
_SINCE_FUTURE = _dt.timedelta(days=1)


def _check_line(value: str | None, option: str) -> None:
    """Refuse line breaks of every kind (all that str.splitlines() splits on), NUL and other control characters."""
    if value is None:
        return
    problem = forbidden_character(value)
    if problem is not None:
        raise InvalidQuery(f"{option} {shown(value)} contains {problem}; it must be one line of printable characters")


def parse_since(value: str, *, now: _dt.datetime | None = None, tz: _dt.tzinfo | None = None) -> _dt.datetime:
    """``2h``, ``30m``, ``1d12h``, or an ISO time (``2026-11-26T14:00:00``, local time when it has no offset).

    A duration reaches back at most 100 years; a time more than a day after ``now`` is refused.
    """
    _check_line(value, "since")
    text = value.strip()
    now = now if now is not None else _dt.datetime.now(_dt.timezone.utc)
    if _DURATION_RE.match(text):
        seconds = sum(int(num) * _UNITS[unit.lower()] for num, unit in _DURATION_PART_RE.findall(text))
        if seconds > LIMITS["since"][1]:
            raise InvalidQuery(f"since={value!r} reaches back more than 100 years: give a shorter duration or an ISO 8601 time")
        return now - _dt.timedelta(seconds=seconds)
    if re.match(r"^\d{4}-\d\d-\d\d$", text, re.ASCII):
        text += "T00:00:00"
    parsed = _parse_iso(text, tz)
    if parsed is None:
        raise InvalidQuery(f"Cannot parse since={value!r}: use a duration such as 2h, 30m or 1d, or an ISO 8601 time such as 2026-11-26T14:00:00")
    if parsed > now + _SINCE_FUTURE:
        raise InvalidQuery(f"since={value!r} is in the future ({_iso(parsed)}); it would match nothing")
    return parsed


def _check_number(value: t.Any, option: str, *, integer: bool, note: str = "") -> None:
    low, high = LIMITS[option]
    wrong_type = isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int))
    if wrong_type or not math.isfinite(value) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise InvalidQuery(f"{option} must be {kind} from {low} to {high}{note}, got {value!r}")


_QUEUE_ID_RE = re.compile(r"[0-9A-Za-z]{1,64}", re.ASCII)
_MAX_TEXT = 1000


def validate_query(query: LogQuery) -> None:
    """Check every option of the query; raise :class:`InvalidQuery` naming the option and the rule.

    ``since`` is checked by :func:`parse_since`. Nothing is read before this passes.
    """
    _check_number(query.limit, "limit", integer=True, note=" (0 returns all)")
    _check_number(query.timeout, "timeout", integer=False, note=" seconds")
    _check_number(query.poll_interval, "poll_interval", integer=False, note=" seconds")
    for option, values in (("path", query.paths), ("maillog_file", [query.maillog_file] if query.maillog_file else [])):
        for path in values:
            _check_line(path, option)
            if not path:
                raise InvalidQuery(f"{option} must not contain an empty path")
    for option, value in (("queue_id", query.queue_id), ("message_id", query.message_id), ("recipient", query.recipient)):
        _check_line(value, option)
        if value is not None and len(value) > _MAX_TEXT:
            raise InvalidQuery(f"{option} is longer than {_MAX_TEXT} characters")
    if query.queue_id is not None and not _QUEUE_ID_RE.fullmatch(query.queue_id):
        raise InvalidQuery(f"queue_id {shown(query.queue_id)} is not a Postfix queue id: letters and digits only, at most 64")
    unknown = sorted(set(query.statuses or ()) - set(MESSAGE_STATUSES))
    if unknown:
        raise InvalidQuery(f"status {', '.join(unknown)} is not one of {', '.join(MESSAGE_STATUSES)}")
    if query.source not in ("auto", "journald", "file"):
        raise InvalidQuery(f"source must be auto, journald or file, got {query.source!r}")
    if query.wait_for_final and not (query.queue_id or query.message_id):
        raise InvalidQuery("wait_for_final needs queue_id or message_id to know which message to follow")


# --------------------------------------------------------------------------------------------------
# The query: sources, filters, waiting


class CommandRunner(t.Protocol):
    def which(self, name: str) -> str | None: ...  # pragma: no cover

    def run(self, args: list[str]) -> tuple[int, str, str]: ...  # pragma: no cover


@dataclass
class LogQuery:
    source: str = "auto"
    paths: list[str] = field(default_factory=list)
    maillog_file: str | None = None
    include_rotated: bool = False
    since: _dt.datetime | None = None
    queue_id: str | None = None
    message_id: str | None = None
    recipient: str | None = None
    statuses: list[str] | None = None
    include_queue: bool = False
    wait_for_final: bool = False
    timeout: float = 120.0
    poll_interval: float = 2.0
    limit: int = 100
    tz: _dt.tzinfo | None = None

    def log_filter(self) -> LogFilter:
        return LogFilter(
            queue_id=self.queue_id,
            message_id=self.message_id,
            recipient=self.recipient,
            since=self.since,
            statuses=frozenset(self.statuses) if self.statuses else None,
        )


class _Feeder:
    def __init__(self, query: LogQuery, collector: ResultCollector) -> None:
        self.parser = PostfixLogParser()
        self.collector = collector
        self.tz = query.tz
        self.lines_read = 0
        self.lines_parsed = 0
        self.cursor: str | None = None

    def feed_line(self, raw: str, reference: _dt.datetime | None) -> None:
        self.lines_read += 1
        if raw.startswith("{"):
            line, cursor = parse_journal_json(raw)
            if cursor:
                self.cursor = cursor
        else:
            line = parse_syslog_line(raw, reference=reference, tz=self.tz)
        if line is None:
            return
        self.lines_parsed += 1
        for record in self.parser.feed(line):
            self.collector.add(record)


def _resolve_files(query: LogQuery, runner: CommandRunner, warnings: list[str]) -> list[tuple[str, str | None]]:
    """The log files to read with the option that named each (None for a file found by default).

    Files named in ``path`` or ``maillog_file`` must be regular files (:class:`NotARegularFile` otherwise); a default
    file that is not one is skipped with a warning.
    """
    explicit = [(path, "path") for path in query.paths] + ([(query.maillog_file, "maillog_file")] if query.maillog_file else [])
    if explicit:
        missing = [path for path, option in explicit if not regular_file(path, option) and not (query.include_rotated and rotated_files(path))]
        if missing:
            raise LogSourceError(f"Log file not found: {', '.join(missing)}")
        return explicit
    postconf = runner.which("postconf")
    if postconf:
        rc, out, _err = runner.run([postconf, "-h", "maillog_file"])
        candidate = out.strip() if rc == 0 else ""
        if candidate.startswith("/") and os.path.isfile(candidate):  # not /dev/stdout (Postfix in a container)
            return [(candidate, None)]
    for path in DEFAULT_LOG_FILES:
        try:
            if regular_file(path):
                return [(path, None)]
        except LogSourceError as exc:
            warnings.append(f"{exc}: skipped")
    return []


def _journal_command(journalctl: str, query: LogQuery, cursor: str | None) -> list[str]:
    args = [journalctl, "-o", "json", "--no-pager", "-q", "SYSLOG_FACILITY=2"]
    if cursor:
        args.append(f"--after-cursor={cursor}")
    elif query.since is not None:
        args.append(f"--since=@{int(query.since.timestamp())}")
    return args


def run_query(
    query: LogQuery,
    runner: CommandRunner,
    *,
    now: _dt.datetime | None = None,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
) -> tuple[dict[str, t.Any], list[str]]:
    """Read the logs (and the queue), apply the filters; return (result, warnings).

    Raises :class:`WaitTimeout` when ``wait_for_final`` gives up, :class:`LogSourceError` when no log can be read.
    """
    validate_query(query)
    warnings: list[str] = []
    log_filter = query.log_filter()
    collector = ResultCollector(log_filter, query.limit)
    feeder = _Feeder(query, collector)
    now = now if now is not None else _dt.datetime.now(_dt.timezone.utc)
    sources: list[str] = []
    tails: list[FileTail] = []
    journalctl: str | None = None

    source = query.source
    files: list[tuple[str, str | None]] = []
    if source in ("auto", "file"):
        files = _resolve_files(query, runner, warnings)
        if not files:
            if source == "file":
                raise LogSourceError(f"No Postfix log file found (tried {', '.join(DEFAULT_LOG_FILES)}); set path or maillog_file")
            source = "journald"
        else:
            source = "file"
    if source == "journald":
        journalctl = runner.which("journalctl")
        if not journalctl:
            raise LogSourceError("No Postfix log file found and journalctl is not available")
        sources.append("journald")
        _read_journal(journalctl, query, runner, feeder)
    else:
        for path, option in files:
            for rotated in rotated_files(path) if query.include_rotated else []:
                mtime = _mtime(rotated)
                if query.since is not None and mtime is not None and mtime < query.since:
                    continue
                try:
                    handle = open_log(rotated)
                except NotARegularFile as exc:  # a sibling nobody named: skipped, the named files are still read
                    warnings.append(f"Skipped {rotated}: it is {exc.kind}, not a regular file")
                    continue
                except LogSourceError as exc:
                    warnings.append(str(exc))
                    continue
                sources.append(rotated)
                with handle:
                    for raw in iter_lines(handle, warnings=warnings, name=rotated):
                        feeder.feed_line(raw, mtime)
            if not regular_file(path, option):
                continue
            sources.append(path)
            tail = FileTail(path, option=option)
            tails.append(tail)
            reference = _mtime(path) or now
            for raw in tail.read_lines(warnings):
                feeder.feed_line(raw, reference)

    if query.wait_for_final:
        deadline = clock() + max(0.0, query.timeout)
        while _wait_target(feeder, log_filter) is None:
            remaining = deadline - clock()
            if remaining <= 0:
                for tail in tails:
                    tail.close()
                result = _build_result(query, feeder, collector=collector, sources=sources, runner=runner, warnings=warnings, now=now)
                target = _latest_target(feeder, log_filter)
                status = target.status if target is not None else "not found in the log"
                what = f"queue_id={query.queue_id}" if query.queue_id else f"message_id={log_filter.message_id}"
                raise WaitTimeout(f"Timeout after {query.timeout:g}s waiting for a final status of {what} (last status: {status})", result)
            sleep(min(query.poll_interval, remaining))
            reference_now = _dt.datetime.now(_dt.timezone.utc)
            for tail in tails:
                for raw in tail.read_lines(warnings, follow=True):
                    feeder.feed_line(raw, reference_now)
            if journalctl:
                _read_journal(journalctl, query, runner, feeder)

    for tail in tails:
        partial = tail.flush()
        if partial:
            feeder.feed_line(partial, _mtime(tail.path) or now)
        tail.close()
    return _build_result(query, feeder, collector=collector, sources=sources, runner=runner, warnings=warnings, now=now), warnings


def _read_journal(journalctl: str, query: LogQuery, runner: CommandRunner, feeder: _Feeder) -> None:
    rc, out, err = runner.run(_journal_command(journalctl, query, feeder.cursor))
    if rc != 0:
        raise LogSourceError(f"journalctl failed (rc={rc}): {err.strip() or out.strip()}")
    for raw in out.splitlines():
        if raw.startswith("-- "):
            continue
        feeder.feed_line(raw[:MAX_LINE], None)


def _candidates(feeder: _Feeder, log_filter: LogFilter) -> list[MessageRecord]:
    found = [message for message in feeder.collector.messages if log_filter.identity_match(message)]
    found.extend(message for message in feeder.parser.open_messages() if log_filter.identity_match(message))
    return found


def _wait_target(feeder: _Feeder, log_filter: LogFilter) -> MessageRecord | None:
    for message in reversed(_candidates(feeder, log_filter)):
        if message.final:
            return message
    return None


def _latest_target(feeder: _Feeder, log_filter: LogFilter) -> MessageRecord | None:
    found = _candidates(feeder, log_filter)
    return found[-1] if found else None


def _read_queue(runner: CommandRunner, log_filter: LogFilter, limit: int, warnings: list[str]) -> list[dict[str, t.Any]]:
    postqueue = runner.which("postqueue")
    if not postqueue:
        warnings.append("postqueue is not installed; the queue was not read")
        return []
    rc, out, err = runner.run([postqueue, "-j"])
    if rc != 0:
        warnings.append(f"postqueue -j failed (rc={rc}): {err.strip() or out.strip()}")
        return []
    try:
        entries = [entry for entry in parse_postqueue_json(out.splitlines()) if log_filter.match_queue(entry)]
    except QueueParseError as exc:
        warnings.append(str(exc))
        return []
    if limit and limit > 0:
        entries = entries[-limit:]
    return [entry.to_dict() for entry in entries]


def _build_result(
    query: LogQuery,
    feeder: _Feeder,
    *,
    collector: ResultCollector,
    sources: list[str],
    runner: CommandRunner,
    warnings: list[str],
    now: _dt.datetime,
) -> dict[str, t.Any]:
    for record in feeder.parser.finish():
        collector.add(record)
    queue_filter = collector.filter
    if queue_filter.message_id is not None and queue_filter.queue_id is None:
        # postqueue -j has no message-id: use the queue ids the log gave for it
        ids = [message.queue_id for message in collector.messages]
        queue_filter = LogFilter(queue_id=ids[-1] if ids else "-", recipient=queue_filter.recipient)
    queue = _read_queue(runner, queue_filter, query.limit, warnings) if query.include_queue else []
    messages = [message.to_dict() for message in collector.messages]
    rejects = [reject.to_dict() for reject in collector.rejects]
    summary = {
        "sources": list(sources),
        "since": _iso(query.since),
        "generated_at": _iso(now),
        "lines_read": feeder.lines_read,
        "lines_parsed": feeder.lines_parsed,
        "lines_incomplete": feeder.parser.incomplete,
        "messages": collector.message_count,
        "rejects": collector.reject_count,
        "by_status": dict(collector.by_status),
        "queue": len(queue),
        "truncated": len(messages) < collector.message_count or len(rejects) < collector.reject_count,
    }
    return {"messages": messages, "rejects": rejects, "queue": queue, "summary": summary}
