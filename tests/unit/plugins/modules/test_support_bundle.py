# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import io
import json
import os
import stat
import tarfile

import pytest

from ansible_collections.mailops.notify.plugins.modules import port_check, smtp_test, support_bundle
from ansible_collections.mailops.notify.tests.unit.plugins.module_runner import run_module
from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import USERNAME, SmtpServer

WRONG = "Wr0ng-App-Passw0rd!"
HOST = "ghe.example.test"
PREFIX = "ghe-mail-support"
MEMBERS = [f"{PREFIX}/{name}" for name in ("verdict.txt", "report.html", "evidence.json", "postconf.txt")]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# What a leak would look like: the password and the base64 forms an AUTH exchange puts on the wire.
LEAK_FORMS = [WRONG, b64(WRONG), b64(f"\0{USERNAME}\0{WRONG}"), b64(f"{USERNAME}\0{USERNAME}\0{WRONG}"), b64(f"x\0y\0{WRONG}")]


@pytest.fixture(scope="module")
def evidence(certs):
    """Real evidence: port_check and smtp_test against an aiosmtpd relay that answers 535 to the wrong password."""
    with SmtpServer(certs, mode="starttls") as server:
        _failed, reach = run_module(
            port_check.main,
            {"targets": [{"host": "127.0.0.1", "port": server.port, "smtp": True}], "listening_ports": [server.port], "fail_on_error": False},
        )
        failed, probe = run_module(
            smtp_test.main,
            {
                "host": "127.0.0.1",
                "port": server.port,
                "security": "starttls",
                "username": USERNAME,
                "password": WRONG,
                "auth_mechanism": "plain",
                "ca_path": certs.ca_file,
                "quit_after": "auth",
                "timeout": 5,
            },
            secrets=LEAK_FORMS,
        )
        assert server.messages == []
    assert failed and probe["stage_failed"] == "auth"
    # The playbook checks port 25; here the aiosmtpd port stands in for it.
    reach["listening"] = [{"port": 25, "listening": True, "addresses": ["0.0.0.0"]}]
    return {
        "hostname": HOST,
        "relay": {"host": "127.0.0.1", "port": server.port, "security": "starttls"},
        "port_check": reach,
        "smtp_probe": probe,
        "firewall": {"output": "backend: none\n", "rc": 0},
        # Secrets smuggled in where a careless gatherer could put them: all must be gone from the bundle.
        "postconf": {
            "stdout": f"myhostname = {HOST}\nrelayhost = [127.0.0.1]:{server.port}\nsmtp_sasl_password_maps = static:{USERNAME}:{WRONG}\n",
            "rc": 0,
        },
        "mail_log": {
            "messages": [],
            "rejects": [],
            "raw_lines": [
                f"Nov 26 09:20:01 appliance postfix/smtp[2108]: > 127.0.0.1[127.0.0.1]:587: AUTH PLAIN {b64(chr(0) + USERNAME + chr(0) + WRONG)}",
                f"debug: password is {WRONG} and its base64 is {b64(WRONG)}",
            ],
        },
        "extra": {"relay_password": WRONG, "nested": [{"note": f"login form {b64('x' + chr(0) + 'y' + chr(0) + WRONG)}"}]},
        "invocation": {"module_args": {"password": WRONG}},
    }


def read_tarball(path: str) -> dict[str, tuple[int, bytes]]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: (m.mode, tar.extractfile(m).read() if m.isfile() else b"") for m in tar.getmembers()}


def assert_no_leak(blob: bytes) -> None:
    for form in LEAK_FORMS:
        assert form.encode() not in blob


def test_writes_a_private_redacted_bundle(tmp_path, evidence):
    dest = tmp_path / "sub" / f"{PREFIX}.tar.gz"
    failed, result = run_module(support_bundle.main, {"evidence": evidence, "secrets": [WRONG], "dest": str(dest)}, secrets=LEAK_FORMS)
    assert not failed, result["msg"]
    assert result["changed"] is True and result["written"] is True and result["bundle"] == str(dest)
    assert result["ok"] is False and result["inbound_checked"] is False
    assert result["verdicts"] == [
        "outbound: relay rejects the credentials (535 5.7.8) - check the username and the (app) password",
        "inbound: not checked (inbound mail is not configured)",
    ]
    assert [hop["status"] for hop in result["hops"]] == ["ok", "failed", "unknown"]
    assert result["hops"][1]["diagnosis"]["code"] == "auth_failed"
    assert result["members"] == MEMBERS
    assert result["msg"] == "; ".join(result["verdicts"])

    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(dest.parent).st_mode) == 0o700
    members = read_tarball(str(dest))
    assert sorted(members) == sorted([PREFIX, *MEMBERS])
    assert all(mode == 0o600 for name, (mode, _data) in members.items() if name != PREFIX)
    raw = dest.read_bytes()
    assert_no_leak(raw)
    for _mode, data in members.values():
        assert_no_leak(data)
    assert "********" in members[f"{PREFIX}/evidence.json"][1].decode()

    verdict_txt = members[f"{PREFIX}/verdict.txt"][1].decode()
    assert result["verdicts"][0] in verdict_txt
    document = json.loads(members[f"{PREFIX}/evidence.json"][1])
    assert document["verdict"]["verdicts"] == result["verdicts"]
    assert "invocation" not in document["evidence"] or document["evidence"]["invocation"] == {"module_args": {"password": "********"}}
    assert document["evidence"]["extra"]["relay_password"] == "********"
    assert members[f"{PREFIX}/postconf.txt"][1].decode().splitlines() == [
        f"myhostname = {HOST}",
        f"relayhost = [127.0.0.1]:{evidence['relay']['port']}",
        "smtp_sasl_password_maps = static:********",
    ]
    report = members[f"{PREFIX}/report.html"][1].decode()
    assert 'class="hop failed" id="hop-outbound-relay"' in report
    assert "<script" not in report


def test_check_mode_writes_nothing(tmp_path, evidence):
    dest = tmp_path / f"{PREFIX}.tar.gz"
    failed, result = run_module(support_bundle.main, {"evidence": evidence, "secrets": [WRONG], "dest": str(dest)}, check_mode=True, secrets=LEAK_FORMS)
    assert not failed
    assert result["changed"] is True and result["written"] is False and result["bundle"] == str(dest)
    assert result["verdicts"][0].startswith("outbound: relay rejects the credentials (535 5.7.8)")
    assert list(tmp_path.iterdir()) == []


def test_replaces_an_existing_file_with_a_private_one(tmp_path, evidence):
    dest = tmp_path / "bundle.tgz"
    dest.write_bytes(b"old")
    os.chmod(dest, 0o644)
    failed, _result = run_module(support_bundle.main, {"evidence": evidence, "secrets": [WRONG], "dest": str(dest)})
    assert not failed
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert sorted(read_tarball(str(dest))) == sorted(["bundle", *(f"bundle/{n}" for n in ("verdict.txt", "report.html", "evidence.json", "postconf.txt"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.tgz"]


def test_refuses_to_write_when_a_secret_survives(tmp_path, evidence):
    # The host name is not evidence and is not redacted: a secret there is caught by the final scan.
    dest = tmp_path / f"{PREFIX}.tar.gz"
    failed, result = run_module(support_bundle.main, {"evidence": evidence, "secrets": [WRONG], "dest": str(dest), "hostname": WRONG})
    assert failed
    assert result["msg"] == "Refusing to write the support bundle: a secret survived redaction in verdict.txt, report.html, evidence.json; nothing was written"
    assert result["written"] is False
    assert WRONG not in result["msg"]
    assert list(tmp_path.iterdir()) == []


def test_bad_evidence_fails_cleanly(tmp_path):
    failed, result = run_module(support_bundle.main, {"evidence": {"smtp_probe": "not a result"}, "dest": str(tmp_path / "x.tar.gz")})
    assert failed
    assert result["msg"] == "Cannot build the support bundle: evidence smtp_probe must be a dictionary (a registered module result), not str"
    assert list(tmp_path.iterdir()) == []


def test_bundle_in_memory_roundtrip():
    from ansible_collections.mailops.notify.plugins.module_utils._bundle import bundle_prefix, tar_gz

    data = tar_gz({"a.txt": b"hello"}, "p", mtime=0)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert [(m.name, m.mode) for m in tar.getmembers()] == [("p", 0o700), ("p/a.txt", 0o600)]
    assert [bundle_prefix(p) for p in ("/x/a.tar.gz", "b.tgz", "c", "/d/.tar.gz")] == ["a", "b", "c", ".tar"]
