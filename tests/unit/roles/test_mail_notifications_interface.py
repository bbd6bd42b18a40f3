# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""defaults/main.yml and meta/argument_specs.yml of the role describe the same variables with the same defaults."""

from __future__ import annotations

import pathlib

import yaml

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "mail_notifications"


def load():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    return defaults, specs


def test_the_same_variables_with_the_same_defaults():
    defaults, specs = load()
    assert sorted(defaults) == sorted(specs)
    assert {name: specs[name].get("default") for name in specs} == defaults


def test_every_variable_is_documented_and_its_default_is_one_of_its_choices():
    defaults, specs = load()
    for name, spec in specs.items():
        assert spec.get("description"), name
        if "choices" in spec:
            assert defaults[name] in spec["choices"], name
