"""The lab hosts of the applications scenario as testinfra hosts (reached through `podman exec`), and what the tests share."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time

import pytest
import testinfra

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELAY_MAILDIR = "/var/mail/relay/inbox"
WAIT = 30


def lab(name):
    return testinfra.get_host(f"podman://apps-{name}")


@pytest.fixture(scope="module")
def appliance():
    return lab("appliance")


@pytest.fixture(scope="module")
def relay():
    return lab("relay")


def wait_for_file_with(host, directory, token, wait=WAIT):
    """The path of the message in a Maildir's new/ that contains token, waiting at most `wait` seconds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = host.run(f"grep -l -r -F -e {shlex.quote(token)} {directory}/new")
        if found.rc == 0 and found.stdout.strip():
            return found.stdout.split()[0]
        time.sleep(0.5)
    raise AssertionError(f"no message with {token} in {directory}/new after {wait} s")


def run_playbook(playbook, extra=None):
    """Run a playbook of the scenario against the lab with the scenario's inventory; extra: variables (JSON)."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3")
    command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], os.path.join(SCENARIO, playbook)]
    if extra:
        command += ["-e", json.dumps(extra)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
