# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() in-process and return what it would have printed, for the module tests."""

from __future__ import annotations

import json
import typing as t
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def run_module(
    main: t.Callable[[], None],
    args: dict[str, t.Any],
    *,
    check_mode: bool = False,
    diff: bool = False,
    warnings: bool = False,
    secrets: t.Iterable[str] = (),
) -> tuple[bool, dict[str, t.Any]]:
    """Run ``main()`` with ``args``; return ``(failed, result)``.

    With ``warnings``, the result carries the module's warnings as ``warnings`` (as Ansible shows them).
    Every string in ``secrets`` is asserted to appear nowhere in the serialized result.
    """
    recorded: list[str] = []

    def exit_json(self, **kwargs):
        if warnings:
            kwargs.setdefault("warnings", list(recorded))
        raise ExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs.update(failed=True, msg=msg)
        if warnings:
            kwargs.setdefault("warnings", list(recorded))
        raise FailJson(kwargs)

    module_args = {**args, "_ansible_check_mode": check_mode, "_ansible_diff": diff}
    with (
        patch_module_args(module_args),
        mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json, fail_json=fail_json, warn=lambda self, msg: recorded.append(msg)),
    ):
        outcome: tuple[bool, dict[str, t.Any]] | None = None
        try:
            main()
        except ExitJson as exc:
            outcome = (False, exc.args[0])
        except FailJson as exc:
            outcome = (True, exc.args[0])
    if outcome is None:
        raise AssertionError("the module returned without exit_json or fail_json")
    failed, result = outcome
    dumped = json.dumps(result)
    for secret in secrets:
        if secret:
            assert secret not in dumped, "a secret leaked into the module result"
    return failed, result
