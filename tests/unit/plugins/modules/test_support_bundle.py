# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import contextlib
import gzip
import html
import io
import json
import os
import re
import stat
import subprocess
import tarfile
from unittest import mock
from urllib.parse import quote, quote_plus

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

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


# --------------------------------------------------------------------------------------------------
# Encoded forms of a secret, -vvv, and dest


# The finding's example and a secret with every character an encoder changes: @ and / (URL), space (+ in forms),
# non-ASCII (\uXXXX in JSON), < > & " ' (HTML), \ (JSON).
ENCODED_SECRETS = ["p@ss", "p@ss wörd/<x>&\"y'z\\é"]


def every_form(secret: str) -> list[str]:
    """The forms the finding names, computed here independently of the code under test."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
        html.escape(secret, quote=False),
        b64(secret),
        b64(f"\0{USERNAME}\0{secret}"),
    }
    return sorted(forms)


def assert_no_form(blob: bytes | str, secret: str, where: str) -> None:
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    for form in every_form(secret):
        assert form not in text, f"{where} holds the form {form!r} of the secret"


def encoded_evidence(secret: str) -> dict:
    """Evidence where a careless gatherer left the secret in every form, in every part the bundle shows."""
    forms = every_form(secret)
    return {
        "hostname": HOST,
        "relay": {"host": "smtp.example.test", "port": 587, "security": "starttls"},
        "port_check": {"ok": True, "targets": [{"host": "smtp.example.test", "port": 587, "state": "open", "ok": True}], "listening": []},
        "smtp_probe": {
            "host": "smtp.example.test",
            "port": 587,
            "security": "starttls",
            "stage_failed": "auth",
            "stages": [{"name": "auth", "ok": False, "code": 535, "enhanced_code": "5.7.8", "text": f"5.7.8 rejected {forms[0]}"}],
            "transcript": [{"dir": "**", "text": f"form {form}"} for form in forms],
            "msg": f"login to smtp://{USERNAME}:{quote(secret, safe='')}@smtp.example.test failed",
            "diagnosis": {"code": "auth_failed", "summary": "Authentication failed", "hint": f"Check the password {html.escape(secret)}."},
        },
        "mail_log": {
            "messages": [
                {
                    "queue_id": "E5F6A7B8C9",
                    "status": "deferred",
                    "from": "noreply@ghe.example.test",
                    "reply": f"said: 535 5.7.8 ({json.dumps({'password': secret})})",
                    "recipients": [{"address": "erin@example.org", "relay": "smtp.example.test[192.0.2.1]:587"}],
                }
            ],
            "rejects": [],
            "raw_lines": [f"relay url smtps://{USERNAME}:{quote_plus(secret)}@smtp.example.test", f"<p>{html.escape(secret)}</p>"],
        },
        "firewall": {"backend": "nftables", "output": f"# {json.dumps(secret)}", "rc": 0},
        "postconf": f"relayhost = [smtp.example.test]:587\nsmtp_sasl_password_maps = texthash:/etc/postfix/sasl\nnote = {quote(secret)}\n",
    }


@pytest.mark.parametrize("secret", ENCODED_SECRETS)
def test_encoded_forms_of_a_secret_leave_neither_the_tarball_nor_the_result(tmp_path, secret):
    dest = tmp_path / f"{PREFIX}.tar.gz"
    failed, result = run_module(support_bundle.main, {"evidence": encoded_evidence(secret), "secrets": [secret], "dest": str(dest)})
    assert not failed, result["msg"]
    assert result["written"] is True
    assert result["verdicts"][0] == "outbound: relay rejects the credentials (535 5.7.8) - check the username and the (app) password"
    for dumped in (json.dumps(result), json.dumps(result, ensure_ascii=False)):
        assert_no_form(dumped, secret, "the module result")
    raw = dest.read_bytes()
    assert_no_form(raw, secret, "the tarball")
    with open(dest, "rb") as fh:
        assert_no_form(gzip.decompress(fh.read()), secret, "the decompressed tarball")
    members = read_tarball(str(dest))
    for name, (_mode, data) in members.items():
        assert_no_form(data, secret, name)
    # the evidence was masked, not dropped
    document = json.loads(members[f"{PREFIX}/evidence.json"][1])
    texts = [entry["text"] for entry in document["evidence"]["smtp_probe"]["transcript"]]
    assert len(texts) == len(every_form(secret)) and all(text.startswith("form ") and text.endswith("********") for text in texts), texts
    assert "smtp.example.test" in members[f"{PREFIX}/report.html"][1].decode()


def run_for_real(args: dict, capsys) -> tuple[dict, list[str]]:
    """Run main() with Ansible's own exit_json (its masking of no_log values and its invocation), as at -vvv.

    Returns the JSON the module printed and what it logged to the host's journal or syslog.
    """
    logged: list[str] = []
    with (
        patch_module_args({**args, "_ansible_check_mode": True}),
        mock.patch.object(basic.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(f"{msg} {log_args}")),
        pytest.raises(SystemExit),
    ):
        support_bundle.main()
    return json.loads(capsys.readouterr().out), logged


@pytest.mark.parametrize("secret", [WRONG, *ENCODED_SECRETS])
def test_at_vvv_the_result_shows_no_evidence_and_no_secret_form(secret, capsys, evidence):
    # the evidence as in EXAMPLES, without no_log on the task
    args = {"evidence": evidence if secret == WRONG else encoded_evidence(secret), "secrets": [secret], "dest": "/tmp/unused.tar.gz"}
    printed, logged = run_for_real(args, capsys)
    assert printed["invocation"]["module_args"] == {
        "evidence": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
        "secrets": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
        "dest": "/tmp/unused.tar.gz",
        "hostname": None,
    }
    # the verdict is not garbled by masking every string of the evidence
    assert printed["verdicts"][0] == "outbound: relay rejects the credentials (535 5.7.8) - check the username and the (app) password"
    assert printed["hops"][1]["status"] == "failed"
    for dumped in (json.dumps(printed), json.dumps(printed, ensure_ascii=False)):
        assert_no_form(dumped, secret, "the printed result")
        for form in LEAK_FORMS if secret == WRONG else ():
            assert form not in dumped
    assert logged and all("NOT_LOGGING_PARAMETER" in line for line in logged if "evidence" in line)
    for line in logged:
        assert_no_form(line, secret, "the host log")


def test_the_module_runner_result_carries_no_evidence(tmp_path, evidence):
    failed, result = run_module(
        support_bundle.main, {"evidence": evidence, "secrets": [WRONG], "dest": str(tmp_path / "b.tar.gz")}, check_mode=True, secrets=LEAK_FORMS
    )
    assert not failed
    assert result["invocation"]["module_args"]["evidence"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "evidence" not in {k for k in result if k != "invocation"}
    assert support_bundle.ARGUMENT_SPEC["evidence"]["no_log"] is True


@contextlib.contextmanager
def read_only(directory):
    """A directory nobody may write into, root included (root ignores the mode: the immutable attribute stops it)."""
    os.chmod(directory, 0o500)
    immutable = os.geteuid() == 0
    if immutable:
        subprocess.run(["chattr", "+i", str(directory)], check=True)
    try:
        yield directory
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        os.chmod(directory, 0o700)


@pytest.mark.parametrize("check_mode", [False, True])
@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("read-only/b.tar.gz", "Cannot write the support bundle: dest {dest}: cannot write into {ro} (permission denied or read-only)"),
        (
            "read-only/missing/deeper/b.tar.gz",
            "Cannot write the support bundle: dest {dest}: cannot create {ro}/missing/deeper in {ro} (permission denied or read-only)",
        ),
        (
            "a-file/b.tar.gz",
            "Cannot write the support bundle: dest {dest}: {tmp}/a-file is not a directory, so the directory for the tarball cannot be created",
        ),
        ("a-dir", "Cannot write the support bundle: dest {dest} is a directory; give the path of the tarball to write, for example {dest}/mail-support.tar.gz"),
        ("fifo", "Cannot write the support bundle: dest {dest} exists and is not a regular file; it is not replaced"),
        ("new\nline.tar.gz", 'Cannot write the support bundle: dest "{tmp}/new\\nline.tar.gz" contains a line break (U+000A) at position'),
    ],
)
def test_unwritable_dest_is_a_clean_error_before_anything_is_built(tmp_path, evidence, where, message, check_mode):
    (tmp_path / "read-only").mkdir()
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    dest = tmp_path / where
    with read_only(tmp_path / "read-only"), mock.patch.object(support_bundle, "build_bundle", side_effect=AssertionError("built before dest was checked")):
        failed, result = run_module(
            support_bundle.main, {"evidence": evidence, "secrets": [WRONG], "dest": str(dest)}, check_mode=check_mode, secrets=LEAK_FORMS
        )
    assert failed
    assert result["msg"].startswith(message.format(dest=dest, ro=tmp_path / "read-only", tmp=tmp_path)), result["msg"]
    assert (result["changed"], result["written"], result["bundle"]) == (False, False, str(dest))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_write_that_fails_anyway_is_a_clean_error(tmp_path, evidence, monkeypatch):
    """os.access can say yes and the write still fail (a full disk): one message naming dest, the verdict kept."""
    dest = tmp_path / "b.tar.gz"

    def full_disk(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(support_bundle, "write_private", full_disk)
    failed, result = run_module(support_bundle.main, {"evidence": evidence, "secrets": [WRONG], "dest": str(dest)}, secrets=LEAK_FORMS)
    assert failed
    assert result["msg"] == f"Cannot write the support bundle: dest {dest}: No space left on device"
    assert (result["changed"], result["written"]) == (False, False)
    assert result["verdicts"][0].startswith("outbound: relay rejects the credentials")
    assert "Traceback" in result["exception"]


def test_missing_parent_directories_are_created_private(tmp_path, evidence):
    dest = tmp_path / "new" / "deeper" / "b.tar.gz"
    failed, result = run_module(support_bundle.main, {"evidence": evidence, "secrets": [WRONG], "dest": str(dest)})
    assert not failed, result["msg"]
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "deeper").st_mode) == 0o700
    assert sorted(read_tarball(str(dest))) == sorted(["b", *(f"b/{n}" for n in ("verdict.txt", "report.html", "evidence.json", "postconf.txt"))])


def test_hostname_with_a_line_break_is_refused(tmp_path, evidence):
    failed, result = run_module(
        support_bundle.main, {"evidence": evidence, "secrets": [WRONG], "dest": str(tmp_path / "b.tar.gz"), "hostname": "ghe\u2028[OK] all fine"}
    )
    assert failed
    assert result["msg"] == "Cannot build the support bundle: hostname contains a line break (U+2028) at position 3; it must be one line"
    assert list(tmp_path.iterdir()) == []
