# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shlex
import socket
import threading
import time
from pathlib import Path

import pytest
from ansible.module_utils import basic

from ansible_collections.mailops.notify.plugins.modules import mail_log_info
from ansible_collections.mailops.notify.tests.unit.plugins.module_runner import run_module as _run

FIXTURES = Path(__file__).parent.parent / "fixtures" / "postfix_logs"
NOW = dt.datetime.now(dt.timezone.utc)


def run_module(args: dict, *, check_mode: bool = False) -> tuple[bool, dict]:
    return _run(mail_log_info.main, args, check_mode=check_mode, warnings=True)


def _stamp(line: str, when: dt.datetime) -> str:
    """Give a fixture line a classic syslog timestamp in local time (the module reads classic stamps as local time)."""
    return when.astimezone().strftime("%b %d %H:%M:%S") + line[15:]


def _recent_log(path: Path, fixture: str, *, minutes_ago: int = 10) -> Path:
    when = NOW - dt.timedelta(minutes=minutes_ago)
    path.write_text("".join(_stamp(line, when) for line in (FIXTURES / fixture).read_text().splitlines(keepends=True)))
    return path


def _strip_volatile(result: dict) -> dict:
    result = dict(result)
    result["summary"] = {k: v for k, v in result["summary"].items() if k != "generated_at"}
    return result


@pytest.mark.parametrize("check_mode", [False, True])
def test_whole_result_for_the_ghes_example(tmp_path, check_mode):
    path = tmp_path / "mail.log"
    path.write_text((FIXTURES / "ghes_inbound.log").read_text())
    failed, result = run_module({"path": [str(path)]}, check_mode=check_mode)
    assert not failed, result
    generated_at = result["summary"].pop("generated_at")
    assert dt.datetime.fromisoformat(generated_at) >= NOW
    # classic syslog has no year: the module picks the one that is not more than a day after the file's mtime (now)
    first_seen = dt.datetime(NOW.year, 10, 30, 0, 47, 19).astimezone()
    if first_seen > NOW + dt.timedelta(days=1):
        first_seen = first_seen.replace(year=NOW.year - 1)
    first_seen = first_seen.isoformat()
    assert result == {
        "changed": False,
        "warnings": [],
        "messages": [
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
                "first_seen": first_seen,
                "last_seen": first_seen,
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
                        "timestamp": first_seen,
                        "attempts": 1,
                    }
                ],
            }
        ],
        "rejects": [],
        "queue": [],
        "summary": {
            "sources": [str(path)],
            "since": None,
            "lines_read": 7,
            "lines_parsed": 7,
            "lines_incomplete": 0,
            "messages": 1,
            "rejects": 0,
            "by_status": {"sent": 1, "deferred": 0, "bounced": 0, "expired": 0, "discarded": 0, "queued": 0},
            "queue": 0,
            "truncated": False,
        },
    }


def test_check_mode_gives_the_same_result_and_changes_nothing(tmp_path):
    path = _recent_log(tmp_path / "mail.log", "relay_outbound.log")
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    real = run_module({"path": [str(path)], "since": "1h"})
    check = run_module({"path": [str(path)], "since": "1h"}, check_mode=True)
    assert real[0] is False and check[0] is False
    real_result, check_result = _strip_volatile(real[1]), _strip_volatile(check[1])
    real_result["summary"].pop("since")
    check_result["summary"].pop("since")
    assert real_result == check_result
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before
    assert real[1]["summary"]["by_status"] == {"sent": 2, "deferred": 2, "bounced": 1, "expired": 0, "discarded": 0, "queued": 0}


@pytest.mark.parametrize(
    ("args", "queue_ids"),
    [
        ({"status": ["deferred"]}, ["E5F6A7B8C9", "F6A7B8C9DA"]),
        ({"status": ["bounced", "sent"], "limit": 1}, ["D4E5F6A7B8"]),
        ({"queue_id": "B2C3D4E5F6"}, ["B2C3D4E5F6"]),
        ({"message_id": "<notif-3@ghe.example.test>"}, ["D4E5F6A7B8"]),
        ({"recipient": "Erin@Example.org"}, ["E5F6A7B8C9"]),
        ({"since": "5m"}, []),
        ({"since": (NOW - dt.timedelta(hours=1)).isoformat()}, ["A1B2C3D4E5", "B2C3D4E5F6", "D4E5F6A7B8", "E5F6A7B8C9", "F6A7B8C9DA"]),
    ],
)
def test_filters(tmp_path, args, queue_ids):
    path = _recent_log(tmp_path / "mail.log", "relay_outbound.log")
    failed, result = run_module({"path": [str(path)], **args})
    assert not failed, result
    assert [m["queue_id"] for m in result["messages"]] == queue_ids


def test_diagnosis_on_every_record_that_is_not_sent(tmp_path):
    path = _recent_log(tmp_path / "mail.log", "relay_outbound.log")
    with path.open("a") as fh:
        fh.write(_recent_log(tmp_path / "r.log", "rejects.log").read_text())
    failed, result = run_module({"paths": [str(path)]})
    assert not failed, result
    codes = {m["queue_id"]: (m.get("diagnosis") or {}).get("code") for m in result["messages"]}
    assert codes == {"A1B2C3D4E5": None, "B2C3D4E5F6": "unknown_recipient", "D4E5F6A7B8": None, "E5F6A7B8C9": "auth_failed", "F6A7B8C9DA": "connection_refused"}
    assert all("diagnosis" not in m for m in result["messages"] if m["status"] == "sent")
    assert result["rejects"][0]["diagnosis"]["code"] == "relay_denied"
    assert result["rejects"][0]["reply"] == "<unknown[203.0.113.7]>: Client host rejected: Access denied"
    assert all(set(r["diagnosis"]) == {"code", "summary", "hint"} for r in result["rejects"])


def test_rotated_gzip_and_maillog_file(tmp_path):
    base = tmp_path / "mail.log"
    rotated = tmp_path / "mail.log.1.gz"
    rotated.write_bytes(gzip.compress(_recent_log(tmp_path / "x", "relay_outbound.log", minutes_ago=30).read_bytes()))
    (tmp_path / "x").unlink()
    _recent_log(base, "discard.log")
    maillog = _recent_log(tmp_path / "postfix.log", "rejects.log")
    failed, result = run_module({"path": [str(base)], "maillog_file": str(maillog), "include_rotated": True})
    assert not failed, result
    assert result["summary"]["sources"] == [str(rotated), str(base), str(maillog)]
    assert result["summary"]["messages"] == 7
    assert result["summary"]["rejects"] == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"path": ["/nonexistent/mail.log"]}, "Cannot read the Postfix log: Log file not found: /nonexistent/mail.log"),
        ({"path": ["{fixture}"], "since": "last tuesday"}, "Cannot parse since='last tuesday': use a duration"),
        ({"path": ["{fixture}"], "wait_for_final": True}, "wait_for_final is True but any of the following are missing: queue_id, message_id"),
        ({"path": ["{fixture}"], "status": ["lost"]}, "value of status must be one or more of"),
    ],
)
def test_failures(args, message):
    args = {key: [v.replace("{fixture}", str(FIXTURES / "ghes_inbound.log")) for v in value] if key == "path" else value for key, value in args.items()}
    failed, result = run_module(args)
    assert failed
    assert result["msg"].startswith(message)


def _fake_command(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def test_journald_and_queue_through_real_processes(tmp_path, monkeypatch):
    """journalctl and postqueue are stand-in scripts on PATH: the module really runs them and parses their output."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    args_file = tmp_path / "journalctl.args"
    _fake_command(bin_dir, "journalctl", f'echo "$@" > {shlex.quote(str(args_file))}\ncat {shlex.quote(str(FIXTURES / "journal.json"))}\n')
    entry = {"queue_name": "deferred", "queue_id": "6A7B8C9D0E", "arrival_time": 1795701600, "message_size": 999, "forced_expire": False}
    queue = json.dumps({**entry, "sender": "a@b", "recipients": []})
    _fake_command(bin_dir, "postqueue", f"echo {shlex.quote(queue)}\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    failed, result = run_module({"source": "journald", "since": "2026-11-26T13:00:00+00:00", "include_queue": True}, check_mode=True)
    assert not failed, result
    assert args_file.read_text().split() == ["-o", "json", "--no-pager", "-q", "SYSLOG_FACILITY=2", "--since=@1795698000"]
    assert result["summary"]["sources"] == ["journald"]
    assert [m["queue_id"] for m in result["messages"]] == ["6A7B8C9D0E"]
    assert result["rejects"][0]["code"] == 554
    assert result["queue"] == [
        {
            "queue_id": "6A7B8C9D0E",
            "queue_name": "deferred",
            "arrival_time": "2026-11-26T14:00:00+00:00",
            "message_size": 999,
            "forced_expire": False,
            "from": "a@b",
            "recipients": [],
        }
    ]
    assert result["warnings"] == []


def test_include_queue_without_postqueue_warns(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: None)
    failed, result = run_module({"path": [str(FIXTURES / "ghes_inbound.log")], "include_queue": True})
    assert not failed, result
    assert result["queue"] == []
    assert result["warnings"] == ["postqueue is not installed; the queue was not read"]


def _writer(path: Path, lines: list[str], delay: float) -> threading.Thread:
    def write():
        for line in lines:
            time.sleep(delay)
            with path.open("a") as fh:
                fh.write(line)
                fh.flush()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_wait_for_final_follows_a_writer_thread(tmp_path):
    path = tmp_path / "mail.log"
    lines = [line for line in (FIXTURES / "relay_outbound.log").read_text().splitlines(keepends=True) if "D4E5F6A7B8" in line]
    lines = [_stamp(line, NOW) for line in lines]
    path.write_text("".join(lines[:4]))
    writer = _writer(path, [lines[4][:50], lines[4][50:] + lines[5], lines[6]], delay=0.3)
    started = time.monotonic()
    failed, result = run_module({"path": [str(path)], "queue_id": "D4E5F6A7B8", "wait_for_final": True, "timeout": 20, "poll_interval": 0.1})
    elapsed = time.monotonic() - started
    writer.join(5)
    assert not failed, result
    assert 0.8 < elapsed < 15
    (message,) = result["messages"]
    assert (message["status"], message["final"], message["removed"]) == ("sent", True, True)
    assert message["recipients"][0]["attempts"] == 2
    assert message["recipients"][0]["relay_queue_id"] == "4F00DBA1D4"


def test_wait_for_final_by_message_id_when_already_final(tmp_path):
    path = _recent_log(tmp_path / "mail.log", "relay_outbound.log")
    started = time.monotonic()
    failed, result = run_module({"path": [str(path)], "message_id": "notif-2@ghe.example.test", "wait_for_final": True, "timeout": 30})
    assert not failed, result
    assert time.monotonic() - started < 5
    assert [(m["queue_id"], m["status"]) for m in result["messages"]] == [("B2C3D4E5F6", "bounced")]


def test_wait_for_final_timeout(tmp_path):
    path = _recent_log(tmp_path / "mail.log", "relay_outbound.log")
    again = "Nov 26 09:20:05 appliance postfix/qmgr[2000]: E5F6A7B8C9: from=<noreply@ghe.example.test>, size=1600, nrcpt=1 (queue active)\n"
    writer = _writer(path, [_stamp(again, NOW)], 0.2)
    started = time.monotonic()
    failed, result = run_module({"path": [str(path)], "queue_id": "E5F6A7B8C9", "wait_for_final": True, "timeout": 1, "poll_interval": 0.2})
    elapsed = time.monotonic() - started
    writer.join(5)
    assert failed
    assert 1 <= elapsed < 10
    assert result["msg"] == "Timeout after 1s waiting for a final status of queue_id=E5F6A7B8C9 (last status: deferred)"
    assert result["changed"] is False
    (message,) = result["messages"]
    assert message["diagnosis"]["code"] == "auth_failed"
    assert message["final"] is False


def test_wait_for_final_message_never_logged(tmp_path):
    path = _recent_log(tmp_path / "mail.log", "ghes_inbound.log")
    failed, result = run_module({"path": [str(path)], "queue_id": "FFFFFFFFFF", "wait_for_final": True, "timeout": 0, "poll_interval": 0.1})
    assert failed
    assert result["msg"] == "Timeout after 0s waiting for a final status of queue_id=FFFFFFFFFF (last status: not found in the log)"
    assert result["messages"] == []


# --------------------------------------------------------------------------------------------------
# Paths that are not regular files, and out-of-range options: refused before anything is read


def _returns_within(seconds: float, args: dict, *, unblock: Path | None = None) -> tuple[bool, dict]:
    """Run the module in a thread; fail the test when it has not returned after ``seconds``.

    ``unblock`` is a FIFO that is opened for writing afterwards, so that a reader stuck on it (the old behaviour)
    ends and the test run goes on.
    """
    box: dict = {}

    def target():
        try:
            box["outcome"] = run_module(args)
        except BaseException as exc:  # handed to the test thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    elapsed = time.monotonic() - started
    if thread.is_alive() and unblock is not None:
        fd = os.open(unblock, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(5)
    assert elapsed < seconds, f"the module did not return within {seconds}s"
    if "error" in box:
        raise box["error"]
    return box["outcome"]


@pytest.fixture
def special_files(tmp_path):
    """A FIFO, a directory and a Unix socket next to a real log; /dev/zero as the endless device."""
    fifo = tmp_path / "fifo.log"
    os.mkfifo(fifo)
    directory = tmp_path / "dir.log"
    directory.mkdir()
    sock_path = tmp_path / "s.log"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(sock_path))
    yield {"fifo": fifo, "directory": directory, "socket": sock_path, "device": Path("/dev/zero")}
    sock.close()


@pytest.mark.parametrize(
    ("kind", "described"),
    [("fifo", "a FIFO (named pipe)"), ("device", "a character device"), ("directory", "a directory"), ("socket", "a socket")],
)
@pytest.mark.parametrize("option", ["path", "maillog_file"])
def test_non_regular_log_path_is_refused_promptly(special_files, kind, described, option):
    target = special_files[kind]
    value = [str(target)] if option == "path" else str(target)
    failed, result = _returns_within(5, {option: value}, unblock=special_files["fifo"])
    assert failed
    assert result["msg"] == (
        f"Cannot read the Postfix log: {option}: {target} is {described}, not a regular file; give the path of a log file (a symlink to one is fine)"
    )
    assert "messages" not in result


def test_fifo_behind_a_symlink_is_refused_and_a_symlinked_file_is_read(tmp_path, special_files):
    link = tmp_path / "mail.log"
    link.symlink_to(special_files["fifo"])
    failed, result = _returns_within(5, {"path": [str(link)]}, unblock=special_files["fifo"])
    assert failed and "is a FIFO (named pipe), not a regular file" in result["msg"]
    link.unlink()
    link.symlink_to(FIXTURES / "ghes_inbound.log")
    failed, result = _returns_within(5, {"path": [str(link)]})
    assert not failed, result
    assert [m["queue_id"] for m in result["messages"]] == ["51DC9163323"]


def test_rotated_sibling_that_is_not_a_regular_file_is_skipped_with_a_warning(tmp_path):
    base = _recent_log(tmp_path / "mail.log", "ghes_inbound.log")
    os.mkfifo(tmp_path / "mail.log.1")
    (tmp_path / "mail.log.2.gz").mkdir()
    failed, result = _returns_within(5, {"path": [str(base)], "include_rotated": True}, unblock=tmp_path / "mail.log.1")
    assert not failed, result
    assert result["summary"]["sources"] == [str(base)]
    assert result["warnings"] == [
        f"Skipped {tmp_path / 'mail.log.2.gz'}: it is a directory, not a regular file",
        f"Skipped {tmp_path / 'mail.log.1'}: it is a FIFO (named pipe), not a regular file",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"limit": -5}, "limit must be an integer from 0 to 1000000 (0 returns all), got -5"),
        ({"limit": 10**7}, "limit must be an integer from 0 to 1000000 (0 returns all), got 10000000"),
        ({"timeout": -1}, "timeout must be a number from 0 to 86400 seconds, got -1"),
        ({"timeout": 86401}, "timeout must be a number from 0 to 86400 seconds, got 86401"),
        ({"poll_interval": 0}, "poll_interval must be a number from 0.05 to 3600 seconds, got 0.0"),
        ({"poll_interval": -2.5}, "poll_interval must be a number from 0.05 to 3600 seconds, got -2.5"),
        ({"poll_interval": "nan"}, "poll_interval must be a number from 0.05 to 3600 seconds, got nan"),
        ({"poll_interval": "inf"}, "poll_interval must be a number from 0.05 to 3600 seconds, got inf"),
        ({"since": "99999999999d"}, "since='99999999999d' reaches back more than 100 years"),
        ({"since": "2026-11-26T14:00:00+99:00"}, "Cannot parse since='2026-11-26T14:00:00+99:00'"),
        ({"since": "2999-01-01"}, "since='2999-01-01' is in the future (2999-01-01T00:00:00"),
        ({"since": "2h\n"}, 'since "2h\\n" contains a line break (U+000A) at position 2'),
        ({"since": "2h\u2028"}, 'since "2h\\u2028" contains a line break (U+2028) at position 2'),
        ({"queue_id": "E5F6A7B8C9\r"}, 'queue_id "E5F6A7B8C9\\r" contains a line break (U+000D) at position 10'),
        ({"queue_id": "E5F6 A7B8"}, 'queue_id "E5F6 A7B8" is not a Postfix queue id: letters and digits only, at most 64'),
        ({"message_id": "a@b\x00"}, 'message_id "a@b\\u0000" contains a control character (U+0000) at position 3'),
        ({"recipient": "a@b.example\x85"}, 'recipient "a@b.example\\u0085" contains a line break (U+0085) at position 11'),
        ({"path": ["/var/log/mail.log\n"]}, 'path "/var/log/mail.log\\n" contains a line break (U+000A) at position 17'),
        ({"maillog_file": "/var/log/x\x1e"}, 'maillog_file "/var/log/x\\u001e" contains a line break (U+001E) at position 10'),
    ],
)
def test_out_of_range_options_are_refused_before_reading(tmp_path, monkeypatch, special_files, args, message):
    # A FIFO as the log and a journalctl that records its call: neither may be touched before the options are checked.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    called = tmp_path / "journalctl.called"
    _fake_command(bin_dir, "journalctl", f"touch {shlex.quote(str(called))}\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    base = {"path": [str(special_files["fifo"])]} if "path" not in args and "maillog_file" not in args else {}
    failed, result = _returns_within(5, {**base, **args}, unblock=special_files["fifo"])
    assert failed
    assert result["msg"].startswith(message), result["msg"]
    assert result["changed"] is False
    assert not called.exists()
    # the same option through journald: journalctl is not run either
    if "path" not in args and "maillog_file" not in args:
        failed, result = _returns_within(5, {"source": "journald", **args})
        assert failed and result["msg"].startswith(message)
        assert not called.exists()
