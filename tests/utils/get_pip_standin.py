# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for ansible-test's pip bootstrap script.

ansible-test downloads ``get-pip-<version>.py`` from a host that this machine cannot reach before it
creates the virtual environment of a sanity test. tests/run.sh puts this file where ansible-test
caches that script. Like get-pip.py, it installs pip into the running interpreter and then the
packages named on the command line; it takes pip from Python's own ``ensurepip`` and the packages
from the package index that pip is configured with.
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main() -> None:
    # ensurepip points PIP_CONFIG_FILE at /dev/null in this process; the install must see pip's configuration.
    env = dict(os.environ)
    ensurepip.bootstrap(upgrade=False, default_pip=True)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.check_call([sys.executable, "-m", "pip", "install", *args], env=env)


if __name__ == "__main__":
    main()
