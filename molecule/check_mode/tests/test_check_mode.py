"""Check mode: a --check run of the role on a fresh host changes nothing; a real run then configures the host, and a
second --check run predicts changed=0. No run shows the relay password."""

from __future__ import annotations

import os
import subprocess

import pytest

testinfra_hosts = ["podman://appliance"]
PASSWORD = "check-mode-secret-41c9"  # the scenario's throw-away password (molecule.yml host_vars)


def run_playbook(*extra):
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    command = ["ansible-playbook", "-i", inventory, "mailops.notify.configure_notifications", "-e", "mail_notifications_target=appliance"]
    return subprocess.run(command + list(extra), env=env, capture_output=True, text=True, timeout=600, check=False)


def recap(output):
    line = next(line for line in output.splitlines() if line.startswith("appliance "))
    return {key: int(value) for key, value in (field.split("=") for field in line.split(":", 1)[1].split())}


@pytest.fixture(scope="module")
def first_check():
    return run_playbook("--check", "--diff")


@pytest.fixture(scope="module")
def fresh_state(host, first_check):
    """What the fresh host looks like after the check run (read before the real run below)."""
    return {
        "postfix": host.package("postfix").is_installed,
        "nftables": host.package("nftables").is_installed,
        "etc_postfix": host.file("/etc/postfix").exists,
        "user": host.user("mailops-mail").exists,
        "maildir": host.file("/var/mail/mailops").exists,
    }


@pytest.fixture(scope="module")
def real_run(fresh_state):
    return run_playbook()


@pytest.fixture(scope="module")
def second_check(real_run):
    return run_playbook("--check", "--diff")


def test_check_mode_on_a_fresh_host_predicts_changes_and_changes_nothing(first_check, fresh_state):
    assert first_check.returncode == 0, first_check.stdout[-3000:] + first_check.stderr[-2000:]
    assert recap(first_check.stdout)["changed"] > 0
    assert fresh_state == {"postfix": False, "nftables": False, "etc_postfix": False, "user": False, "maildir": False}


def test_a_real_run_then_configures_the_host(host, real_run):
    assert real_run.returncode == 0, real_run.stdout[-3000:] + real_run.stderr[-2000:]
    assert recap(real_run.stdout)["changed"] > 0
    assert host.service("postfix").is_running
    assert host.file("/etc/postfix/sasl_passwd").mode == 0o600
    assert "[relay.mailops.test]:587" in host.check_output("postconf -h relayhost")
    assert 'tcp dport 25 accept comment "mailops.notify: inbound mail"' in host.check_output("nft list ruleset")


def test_check_mode_on_the_configured_host_predicts_no_change(second_check):
    assert second_check.returncode == 0, second_check.stdout[-3000:] + second_check.stderr[-2000:]
    assert recap(second_check.stdout)["changed"] == 0
    assert recap(second_check.stdout)["failed"] == 0


def test_no_run_shows_the_password(first_check, real_run, second_check):
    for run in (first_check, real_run, second_check):
        assert PASSWORD not in run.stdout + run.stderr
