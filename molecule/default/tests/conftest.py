"""The lab hosts as testinfra hosts, shared by every test module of the scenario (reached through `podman exec`)."""

from __future__ import annotations

import pytest
import testinfra


def lab(name):
    return testinfra.get_host(f"podman://{name}")


@pytest.fixture(scope="module")
def appliance():
    return lab("appliance")


@pytest.fixture(scope="module")
def relay():
    return lab("relay")


@pytest.fixture(scope="module")
def outside():
    return lab("outside")
