# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dns_mail_records against real BIND 9 servers started on 127.0.0.1 by the tests (see bind9_server.py)."""

from __future__ import annotations

import time
import typing as t
from unittest import mock

import pytest

from ansible_collections.mailops.notify.plugins.modules import dns_mail_records
from ansible_collections.mailops.notify.tests.unit.plugins.bind9_server import Named, PacketRecorder, free_port, new_secret
from ansible_collections.mailops.notify.tests.unit.plugins.module_runner import run_module as _run

HOST = "ghe.lab.test"
REPLY = f"reply.{HOST}"
NOREPLY = f"noreply.{HOST}"
V4 = "192.0.2.10"
V6 = "2001:db8::10"
SNIPPET_A = (
    "; reply-by-email records for ghe.lab.test (mailops.notify.dns_mail_records)\n"
    "reply.ghe.lab.test.   3600 IN A     192.0.2.10\n"
    "reply.ghe.lab.test.   3600 IN AAAA  2001:db8::10\n"
    "reply.ghe.lab.test.   3600 IN MX    10 reply.ghe.lab.test.\n"
    "noreply.ghe.lab.test. 3600 IN MX    10 ghe.lab.test.\n"
    "ghe.lab.test.         3600 IN A     192.0.2.10  ; only if ghe.lab.test has no address yet\n"
    "ghe.lab.test.         3600 IN AAAA  2001:db8::10  ; only if ghe.lab.test has no address yet\n"
)
CREATE_UPDATES = [
    f"update add {REPLY}. 3600 IN A {V4}",
    f"update add {REPLY}. 3600 IN AAAA {V6}",
    f"update add {HOST}. 3600 IN A {V4}",
    f"update add {HOST}. 3600 IN AAAA {V6}",
    f"update add {REPLY}. 3600 IN MX 10 {REPLY}.",
    f"update add {NOREPLY}. 3600 IN MX 10 {HOST}.",
]


def run_module(args: dict[str, t.Any], *, check_mode: bool = False) -> tuple[bool, dict[str, t.Any]]:
    """Run main(); return (failed, result). The TSIG secret must never appear in a result."""
    return _run(dns_mail_records.main, args, check_mode=check_mode, secrets=[args.get("key_secret", "")])


def _args(named: Named, **extra: t.Any) -> dict[str, t.Any]:
    args = {
        "hostname": HOST,
        "address": [V4, V6],
        "zone": "lab.test",
        "server": named.server,
        "nameservers": [named.server],
        "key_name": named.key_name,
        "key_secret": named.key_secret,
        "timeout": 2,
    }
    args.update(extra)
    return {k: v for k, v in args.items() if v is not None}


def _statuses(result: dict[str, t.Any]) -> dict[tuple[str, str], list[str]]:
    return {(r["name"], r["type"]): [ns["status"] for ns in r["nameservers"]] for r in result["records"]}


def _all_statuses(result: dict[str, t.Any]) -> set[str]:
    return {status for statuses in _statuses(result).values() for status in statuses}


def _served(named: Named) -> dict[str, list[str]]:
    return {
        "reply A": named.query(REPLY, "A"),
        "reply AAAA": named.query(REPLY, "AAAA"),
        "reply MX": named.query(REPLY, "MX"),
        "noreply MX": named.query(NOREPLY, "MX"),
        "host A": named.query(HOST, "A"),
        "host AAAA": named.query(HOST, "AAAA"),
    }


GOOD = {
    "reply A": [V4],
    "reply AAAA": [V6],
    "reply MX": [f"10 {REPLY}."],
    "noreply MX": [f"10 {HOST}."],
    "host A": [V4],
    "host AAAA": [V6],
}


def _record(key, name, rtype, purpose, expected, *, ns_label, actual=None, status="ok", ttl=3600, message=""):
    return {
        "key": key,
        "name": name,
        "type": rtype,
        "purpose": purpose,
        "expected": expected,
        "managed": expected,
        "ttl": 3600,
        "status": status,
        "nameservers": [{"nameserver": ns_label, "status": status, "actual": actual if actual is not None else expected, "ttl": ttl, "message": message}],
    }


def _good_records(ns_label: str) -> list[dict[str, t.Any]]:
    return [
        _record("reply_a", REPLY, "A", f"Address of the reply domain {REPLY} (MX target)", [V4], ns_label=ns_label),
        _record("reply_aaaa", REPLY, "AAAA", f"Address of the reply domain {REPLY} (MX target)", [V6], ns_label=ns_label),
        _record("reply_mx", REPLY, "MX", f"Mail for {REPLY} (reply-by-email) is delivered to the instance", [f"10 {REPLY}."], ns_label=ns_label),
        _record("noreply_mx", NOREPLY, "MX", f"Replies to the cc address at {NOREPLY} are routed to {HOST}", [f"10 {HOST}."], ns_label=ns_label),
        _record("host_address", HOST, "A/AAAA", f"{HOST} resolves to an address (target of the noreply MX; must not be a CNAME)", [V4, V6], ns_label=ns_label),
    ]


@pytest.fixture
def primary(tmp_path):
    named = Named(str(tmp_path / "primary"), records="mail IN A 192.0.2.25\nwww IN A 192.0.2.80\n").start()
    yield named
    named.stop()


# ---------------------------------------------------------------------------------------------------------


def test_create_from_empty_with_discovery_then_unchanged(primary):
    """zone from the SOA, nameservers from the NS records, then a second run changes nothing."""
    args = _args(primary, zone=None, nameservers=None, server="127.0.0.1", port=primary.port)
    serial = primary.serial()
    failed, result = run_module(args)
    label = f"ns1.lab.test (127.0.0.1:{primary.port})"
    assert (failed, result) == (
        False,
        {
            "changed": True,
            "state": "present",
            "zone": "lab.test",
            "server": f"127.0.0.1:{primary.port}",
            "nameservers": [label],
            "updates": CREATE_UPDATES,
            "zone_snippet": SNIPPET_A,
            "records": _good_records(label),
            "msg": "all 5 records are as expected on 1 nameserver(s)",
        },
    )
    assert _served(primary) == GOOD
    assert primary.ttl(REPLY, "MX") == 3600
    assert primary.serial() == serial + 1, "one update message, applied atomically"

    failed, again = run_module(args)
    assert (failed, again) == (False, {**result, "changed": False, "updates": []})
    assert primary.serial() == serial + 1


def test_check_mode_sends_no_update(primary):
    serial = primary.serial()
    failed, result = run_module(_args(primary), check_mode=True)
    assert not failed
    assert result["changed"] is True
    assert result["updates"] == CREATE_UPDATES
    assert _statuses(result) == {
        (REPLY, "A"): ["missing"],
        (REPLY, "AAAA"): ["missing"],
        (REPLY, "MX"): ["missing"],
        (NOREPLY, "MX"): ["missing"],
        (HOST, "A/AAAA"): ["missing"],
    }
    assert primary.serial() == serial
    assert all(values == [] for values in _served(primary).values())
    # real run, then check mode predicts no change
    assert run_module(_args(primary))[1]["changed"] is True
    failed, result = run_module(_args(primary), check_mode=True)
    assert (failed, result["changed"], result["updates"]) == (False, False, [])


def test_fix_wrong_mx_priority_target_and_a(tmp_path):
    seeded = (
        "mail IN A 192.0.2.25\nghe IN A 192.0.2.10\nreply.ghe IN A 192.0.2.99\nreply.ghe IN MX 20 mail.lab.test.\nnoreply.ghe 3600 IN MX 30 ghe.lab.test.\n"
    )
    named = Named(str(tmp_path / "p"), records=seeded).start()
    try:
        failed, result = run_module(_args(named, address=[V4]))
        assert not failed
        assert result["updates"] == [
            f"update delete {REPLY}. IN A",
            f"update add {REPLY}. 3600 IN A {V4}",
            f"update delete {REPLY}. IN MX",
            f"update add {REPLY}. 3600 IN MX 10 {REPLY}.",
            f"update delete {NOREPLY}. IN MX",
            f"update add {NOREPLY}. 3600 IN MX 10 {HOST}.",
        ]
        assert named.query(REPLY, "A") == [V4]
        assert named.query(REPLY, "MX") == [f"10 {REPLY}."]
        assert named.query(NOREPLY, "MX") == [f"10 {HOST}."]
        assert named.query("mail.lab.test", "A") == ["192.0.2.25"], "records at other names are untouched"
        assert _all_statuses(result) == {"ok"}
        assert run_module(_args(named, address=[V4]))[1]["changed"] is False
    finally:
        named.stop()


def test_ttl_difference_is_fixed(primary):
    run_module(_args(primary))
    failed, result = run_module(_args(primary, ttl=600))
    assert not failed and result["changed"] is True
    assert f"update add {REPLY}. 600 IN MX 10 {REPLY}." in result["updates"]
    assert primary.ttl(REPLY, "MX") == 600


def test_wildcard_mode(primary):
    failed, result = run_module(_args(primary, reply_record="wildcard"))
    assert not failed and result["changed"] is True
    assert result["updates"][:2] == [f"update add *.{HOST}. 3600 IN A {V4}", f"update add *.{HOST}. 3600 IN AAAA {V6}"]
    assert primary.query(f"*.{HOST}", "A") == [V4]
    assert primary.query(f"assets.{HOST}", "A") == [V4], "the wildcard covers other names"
    assert primary.query(REPLY, "A") == [V4], "reply.<host> owns an MX record, so it needs its own address record"
    assert _statuses(result)[(f"*.{HOST}", "AAAA")] == ["ok"]
    assert "*.ghe.lab.test.       3600 IN A     192.0.2.10" in result["zone_snippet"]
    assert run_module(_args(primary, reply_record="wildcard"))[1]["changed"] is False


def test_existing_wildcard_does_not_hide_missing_reply_address(tmp_path):
    """reply.<host> answers from the wildcard until it owns the MX; the module must still create its address."""
    named = Named(str(tmp_path / "p"), records="ghe 3600 IN A 192.0.2.10\n*.ghe 3600 IN A 192.0.2.10\n").start()
    try:
        assert named.query(REPLY, "A") == [V4], "synthesized from the wildcard"
        failed, result = run_module(_args(named, address=[V4]))
        assert not failed
        assert result["updates"][0] == f"update add {REPLY}. 3600 IN A {V4}"
        assert named.query(REPLY, "A") == [V4]
        assert named.query(REPLY, "MX") == [f"10 {REPLY}."]
    finally:
        named.stop()


def test_absent_removes_only_managed_records(tmp_path):
    user = 'backup IN A 192.0.2.50\nreply.ghe IN MX 20 backup.lab.test.\nreply.ghe IN A 192.0.2.77\nnoreply.ghe IN TXT "user-note"\n'
    named = Named(str(tmp_path / "p"), records=user).start()
    try:
        # present replaces the owned RRsets (the user's A and MX at reply.<host> are wrong for this module) ...
        run_module(_args(named))
        # ... the user adds a backup MX and an unrelated record afterwards
        named.update(("add", REPLY, 3600, "MX", "20 backup.lab.test."), ("add", f"www.{HOST}", 300, "A", "192.0.2.80"))
        failed, result = run_module(_args(named, state="absent"))
        assert not failed and result["changed"] is True
        assert result["updates"] == [
            f"update delete {REPLY}. IN MX 10 {REPLY}.",
            f"update delete {NOREPLY}. IN MX 10 {HOST}.",
            f"update delete {REPLY}. IN A {V4}",
            f"update delete {REPLY}. IN AAAA {V6}",
        ]
        assert named.query(REPLY, "MX") == ["20 backup.lab.test."]
        assert named.query(REPLY, "A") == []
        assert named.query(f"www.{HOST}", "A") == ["192.0.2.80"]
        assert named.query(NOREPLY, "TXT") == ['"user-note"']
        assert named.query(HOST, "A") == [V4], "the host's own address is never removed"
        assert "host_address" not in [r["key"] for r in result["records"]]
        assert _all_statuses(result) == {"ok"}
        failed, again = run_module(_args(named, state="absent"))
        assert (failed, again["changed"], again["updates"]) == (False, False, [])
    finally:
        named.stop()


def test_wrong_tsig_key_is_a_clear_error_and_changes_nothing(primary):
    serial = primary.serial()
    failed, result = run_module(_args(primary, key_secret="QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="))
    assert failed
    assert result["msg"] == (
        f"{HOST}: 127.0.0.1:{primary.port} rejected the signature made with TSIG key 'mailops-test-key' (BADSIG): "
        "wrong key_secret or key_algorithm (hmac-sha256); nothing was changed"
    )
    failed, result = run_module(_args(primary, key_name="unknown-key"))
    assert failed and "does not know the TSIG key 'unknown-key' (BADKEY)" in result["msg"]
    failed, result = run_module(_args(primary, key_secret="not base64!"))
    assert failed and "not valid base64" in result["msg"]
    assert primary.serial() == serial
    assert all(values == [] for values in _served(primary).values())


def test_unsigned_update_is_refused(primary):
    args = _args(primary)
    del args["key_name"], args["key_secret"]
    failed, result = run_module(args)
    assert failed and "answered REFUSED to the update of zone lab.test" in result["msg"]


def test_cname_conflict_fails_before_any_update(tmp_path):
    named = Named(str(tmp_path / "p"), records="lb IN A 192.0.2.1\nreply.ghe IN CNAME lb.lab.test.\n").start()
    try:
        serial = named.serial()
        failed, result = run_module(_args(named))
        assert failed
        assert "reply.ghe.lab.test is a CNAME to lb.lab.test." in result["msg"]
        assert named.serial() == serial
    finally:
        named.stop()


def test_nameserver_down_is_unreachable_not_a_traceback(primary):
    down = f"127.0.0.1:{free_port()}"
    failed, result = run_module(_args(primary, nameservers=[primary.server, down], timeout=0.5))
    assert not failed and result["changed"] is True
    assert result["nameservers"] == [primary.server, down]
    for record in result["records"]:
        assert [ns["status"] for ns in record["nameservers"]] == ["ok", "unreachable"]
        assert record["status"] == "unreachable"
        assert record["nameservers"][1]["message"] == f"no answer from {down} within 0.5s"
    failed, result = run_module(_args(primary, nameservers=[primary.server, down], timeout=0.5, state="verify"))
    assert failed
    assert result["msg"].startswith("5 of 5 records are not as expected on every nameserver:\nrecord")
    assert "reply.ghe.lab.test    MX      ok               unreachable" in result["msg"]
    assert "exception" not in result


def test_update_server_down_is_a_clear_error(primary):
    down = f"127.0.0.1:{free_port()}"
    failed, result = run_module(_args(primary, server=down, timeout=0.5))
    assert failed
    assert result["msg"].startswith(f"{HOST}: cannot read reply.ghe.lab.test A from the update server: no answer from {down}")


@pytest.fixture
def cluster(tmp_path):
    """A primary, a secondary that gets NOTIFY (in sync) and a secondary that does not (stale)."""
    primary = Named(str(tmp_path / "primary"), records="mail IN A 192.0.2.25\n")
    synced = Named(str(tmp_path / "synced"), primary_port=primary.port)
    primary.notify_ports = [synced.port]
    primary.start()
    stale = Named(str(tmp_path / "stale"), primary_port=primary.port)
    started = [primary]
    try:
        started.append(synced.start())
        started.append(stale.start())
        yield primary, synced, stale
    finally:
        for named in started:
            named.stop()


def test_two_servers_wait_until_both_serve(cluster):
    primary, synced, _stale = cluster
    failed, result = run_module(_args(primary, nameservers=[primary.server, synced.server], wait=True, wait_timeout=20))
    assert not failed and result["changed"] is True
    assert _all_statuses(result) == {"ok"}
    assert len(result["records"][0]["nameservers"]) == 2
    assert _served(synced) == GOOD


def test_two_servers_one_stale_wait_times_out_with_table(cluster):
    primary, _synced, stale = cluster
    args = _args(primary, nameservers=[primary.server, stale.server], wait=True, wait_timeout=2)
    failed, result = run_module(args)
    assert failed
    lines = result["msg"].splitlines()
    assert lines[0] == "timed out after 2s waiting for every nameserver to serve the records:"
    assert lines[1].split() == ["record", "type", primary.server, stale.server]
    assert lines[2:] == [
        "reply.ghe.lab.test    A       ok               missing",
        "reply.ghe.lab.test    AAAA    ok               missing",
        "reply.ghe.lab.test    MX      ok               missing",
        "noreply.ghe.lab.test  MX      ok               missing",
        "ghe.lab.test          A/AAAA  ok               missing",
    ]
    assert result["changed"] is True, "the primary was updated"
    assert result["updates"] == CREATE_UPDATES
    assert _statuses(result)[(REPLY, "MX")] == ["ok", "missing"]
    # without wait, the stale server is reported, not fatal
    failed, result = run_module({**args, "wait": False})
    assert (failed, result["changed"]) == (False, False)
    assert result["msg"] == "5 of 5 records are not as expected on every nameserver"


def test_verify_mode_reports(primary):
    failed, result = run_module(_args(primary, state="verify", fail_on_mismatch=False))
    assert not failed
    assert (result["changed"], result["updates"], result["server"]) == (False, [], None)
    assert {r["key"]: r["status"] for r in result["records"]} == {
        "reply_a": "missing",
        "reply_aaaa": "missing",
        "reply_mx": "missing",
        "noreply_mx": "missing",
        "host_address": "missing",
    }
    failed, result = run_module(_args(primary, state="verify"))
    assert failed and result["msg"].startswith("5 of 5 records are not as expected")
    run_module(_args(primary, spf={"value": "v=spf1 mx -all"}))
    failed, result = run_module(_args(primary, state="verify", spf={"value": "v=spf1 mx -all"}, dmarc={"domain": "lab.test", "value": "v=DMARC1; p=none"}))
    assert failed
    statuses = {r["key"]: r["status"] for r in result["records"]}
    assert statuses == {"reply_a": "ok", "reply_aaaa": "ok", "reply_mx": "ok", "noreply_mx": "ok", "host_address": "ok", "spf": "ok", "dmarc": "missing"}
    assert "_dmarc.lab.test" in result["msg"]


def test_records_outside_the_zone_are_refused(primary):
    failed, result = run_module(_args(primary, dmarc={"domain": "example.org", "value": "v=DMARC1; p=none"}))
    assert failed
    assert result["msg"] == f"{HOST}: _dmarc.example.org is outside the zone lab.test; manage it with a separate task for its own zone"


def test_invalid_hostname(primary):
    failed, result = run_module(_args(primary, hostname="192.0.2.10"))
    assert failed and result["msg"] == "192.0.2.10: hostname must be a DNS name, not an IP address: '192.0.2.10'"


def test_missing_dnspython_is_reported(primary):
    with mock.patch.object(dns_mail_records, "HAS_DNSPYTHON", False):
        failed, result = run_module(_args(primary))
    assert failed
    assert "Failed to import the required Python library (dnspython >= 2.0.0)" in result["msg"]


# --------------------------------------------------------------------------------------------------
# Bad options fail locally: not one packet leaves, no name is looked up


@pytest.fixture
def recorder():
    with PacketRecorder() as rec:
        yield rec


def _recorded_args(rec: PacketRecorder, **extra: t.Any) -> dict[str, t.Any]:
    args = {
        "hostname": HOST,
        "address": [V4, V6],
        "server": rec.server,
        "nameservers": [rec.server],
        "key_name": "mailops-test-key",
        "key_secret": new_secret(),
        "timeout": 1,
    }
    args.update(extra)
    return {k: v for k, v in args.items() if v is not None}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"key_secret": "not base64!"}, "key_secret is not valid base64 (letters, digits, '+' and '/', padded with '=' to a multiple of 4)"),
        ({"key_secret": "QUFBQ"}, "key_secret is not valid base64 (letters, digits, '+' and '/', padded with '=' to a multiple of 4)"),
        ({"key_secret": "QUFB\nQUFB"}, "key_secret is not valid base64: it contains a line break, a control character or a non-ASCII character"),
        ({"key_secret": ""}, "key_secret must be the non-empty base64 secret of the TSIG key"),
        ({"key_name": "bad..key"}, 'key_name "bad..key" has an empty label or a label longer than 63 characters'),
        ({"key_name": "key\nname"}, 'key_name "key\\nname" contains a line break (U+000A) at position 3; it must be one line'),
        ({"key_name": "key name"}, "key_name \"key name\": a label may hold only letters, digits, '-' and '_'"),
        ({"port": 0}, "port must be an integer from 1 to 65535, got 0"),
        ({"port": 65536}, "port must be an integer from 1 to 65535, got 65536"),
        ({"server": "127.0.0.1:0"}, "server '127.0.0.1:0': port must be a number between 1 and 65535"),
        ({"server": "ns1..lab.test"}, "server 'ns1..lab.test': host 'ns1..lab.test' has an empty label or a label longer than 63 characters"),
        ({"nameservers": ["127.0.0.1:5353", "ns 2.lab.test"]}, "nameservers[1] 'ns 2.lab.test': host 'ns 2.lab.test' is not a valid host name"),
        ({"nameservers": ["127.0.0.1\u2028"]}, 'nameservers[0] "127.0.0.1\\u2028" contains a line break (U+2028) at position 9; it must be one line'),
        ({"hostname": f"{HOST}\n"}, 'hostname "ghe.lab.test\\n" contains a line break (U+000A) at position 12; it must be one line'),
        ({"hostname": f"{HOST}\u2029"}, 'hostname "ghe.lab.test\\u2029" contains a line break (U+2029) at position 12; it must be one line'),
        ({"hostname": f"{HOST}.."}, f"hostname '{HOST}..' has an empty label or a label longer than 63 characters"),
        ({"hostname": "a" * 64 + ".lab.test"}, "has an empty label or a label longer than 63 characters"),
        ({"zone": "lab.test\r"}, 'zone "lab.test\\r" contains a line break (U+000D) at position 8; it must be one line'),
        ({"zone": "lab..test"}, "zone 'lab..test' has an empty label or a label longer than 63 characters"),
        ({"ttl": -1}, "ttl must be an integer from 0 to 2147483647, got -1"),
        ({"ttl": 2**31}, "ttl must be an integer from 0 to 2147483647, got 2147483648"),
        ({"mx_priority": 65536}, "mx_priority must be an integer from 0 to 65535, got 65536"),
        ({"timeout": 0}, "timeout must be a number from 0.1 to 300, got 0.0"),
        ({"timeout": -1}, "timeout must be a number from 0.1 to 300, got -1.0"),
        ({"timeout": "nan"}, "timeout must be a number from 0.1 to 300, got nan"),
        ({"wait": True, "wait_timeout": -1}, "wait_timeout must be an integer from 0 to 86400, got -1"),
        ({"spf": {"value": "v=spf1 -all\ninclude:evil.example"}}, 'spf.value "v=spf1 -all\\ninclude:evil.example" contains a line break (U+000A)'),
        ({"address": [f"{V4}\n"]}, 'address "192.0.2.10\\n" contains a line break (U+000A) at position 10; it must be one line'),
    ],
)
@pytest.mark.parametrize("state", ["present", "verify"])
def test_bad_options_fail_before_any_packet(recorder, extra, message, state):
    failed, result = run_module({**_recorded_args(recorder, state=state), **extra})
    assert failed
    assert message in result["msg"], result["msg"]
    time.sleep(0.2)  # anything sent would have arrived by now
    assert recorder.packets == []


def test_the_recorder_does_see_a_query(recorder):
    """The recorder is not deaf: a good run sends to it (and times out, since it never answers)."""
    failed, result = run_module(_recorded_args(recorder, zone="lab.test", state="verify"))
    assert failed and "5 of 5 records are not as expected" in result["msg"], result["msg"]
    time.sleep(0.2)
    assert recorder.packets and recorder.packets[0][0] == "udp"


def test_bad_key_secret_changes_nothing_on_a_real_named_and_sends_nothing(primary, recorder):
    serial = primary.serial()
    # the update server is the recorder, the nameserver to verify is named: neither may be asked
    failed, result = run_module(_args(primary, server=recorder.server, key_secret="bm90IGJhc2U2NA=", zone=None))
    assert failed
    assert result["msg"] == f"{HOST}: key_secret is not valid base64 (letters, digits, '+' and '/', padded with '=' to a multiple of 4)"
    assert recorder.packets == []
    assert primary.serial() == serial
