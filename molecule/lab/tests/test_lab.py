"""The lab is real: systemd runs in every host, hosts find and reach each other, apt works, nftables works."""

from __future__ import annotations

import pytest

HOSTS = ["dns", "relay", "appliance", "outside"]
# Each lab host is reached with `podman exec` (the containers are named lab-<host>): a command costs
# a fraction of a second, where the Ansible connection costs seconds.
testinfra_hosts = [f"podman://lab-{name}" for name in HOSTS]


def design_name(host) -> str:
    """The host's name in the design (the container is named lab-<name>)."""
    return host.backend.get_hostname().removeprefix("lab-")


def test_systemd_is_pid_1_and_running(host):
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"
    state = host.run("systemctl is-system-running --wait")
    assert state.stdout.strip() == "running", host.run("systemctl --failed --no-legend").stdout


@pytest.mark.parametrize("other", HOSTS)
def test_resolves_and_reaches_every_host_by_name(host, other):
    resolved = host.run(f"getent hosts {other}")
    assert resolved.rc == 0, f"{design_name(host)} cannot resolve {other}"
    ping = host.run(f"ping -c 1 -W 2 {other}")
    assert ping.rc == 0, ping.stderr


def test_hostname_is_the_design_name(host):
    assert host.check_output("hostname") == design_name(host)


def test_apt_installed_the_packages_inside(host):
    name = "nftables" if design_name(host) == "appliance" else "bind9-dnsutils"
    assert host.package(name).is_installed


def test_nftables_works_on_the_appliance(host):
    if design_name(host) != "appliance":
        assert not host.package("nftables").is_installed
        return
    assert host.service("nftables").is_running
    ruleset = host.run("nft list table inet mailops_lab")
    assert ruleset.rc == 0, ruleset.stderr
    assert "tcp dport 25 accept" in ruleset.stdout
