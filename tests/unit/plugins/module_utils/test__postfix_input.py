# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.notify.plugins.filter.postfix_input_errors import FilterModule
from ansible_collections.mailops.notify.plugins.module_utils._postfix_input import (
    OWNED_PARAMETERS,
    check_inputs,
    forbidden_character,
)

postfix_input_errors = FilterModule().filters()["postfix_input_errors"]

# Every character str.splitlines() splits on, and other control characters.
LINE_BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
CONTROLS = ["\t", "\x1b", "\x7f"]
INJECTION = "\nalways_bcc = spy@evil.test"
PASSWORD = "s3cret-Pa55"


def test_every_splitlines_separator_is_a_forbidden_character():
    for sep in LINE_BREAKS:
        assert len(f"a{sep}b".splitlines()) == 2
        assert forbidden_character(f"a{sep}b").startswith("a line break (U+")


@pytest.mark.parametrize("char", CONTROLS)
def test_other_control_characters_are_forbidden(char):
    assert forbidden_character(f"a{char}b").startswith("a control character")


def test_nul_and_lone_surrogates_are_forbidden():
    assert forbidden_character("a\x00b") == "a control character (U+0000) at position 1"
    assert forbidden_character("a\ud800b") == "a lone surrogate (not valid UTF-8) (U+D800) at position 1"


@pytest.mark.parametrize("value", ["relay.example.test", "/etc/ssl/certs/ca-certificates.crt", "Grüße", "a b", "p@ss:w0rd!"])
def test_ordinary_values_pass(value):
    assert forbidden_character(value) is None


@pytest.mark.parametrize("sep", LINE_BREAKS + CONTROLS)
@pytest.mark.parametrize(
    "variable",
    ["mail_notifications_relay_ca_file", "mail_notifications_maildir_base", "mail_notifications_inbound_tls_cert"],
)
def test_a_path_with_a_line_break_is_refused_by_name(variable, sep):
    errors = check_inputs(paths={variable: "/etc/ssl/ca.pem" + sep.replace("\n", INJECTION)})
    assert len(errors) == 1
    assert errors[0].startswith(f"{variable}: ")
    assert "contains a " in errors[0]


@pytest.mark.parametrize("path", ["relative/ca.pem", "/etc/../root/ca.pem", "/etc/ssl/a b.pem", "/etc/ssl/a,b.pem", "/etc/$x/ca.pem", "/etc/{x}"])
def test_paths_must_be_plain_absolute_paths(path):
    errors = check_inputs(paths={"mail_notifications_relay_ca_file": path})
    assert errors and all(e.startswith("mail_notifications_relay_ca_file: ") for e in errors)


def test_empty_and_good_paths_pass():
    assert check_inputs(paths={"a": "", "b": None, "c": "/var/mail/mailops", "d": "/etc/ssl/certs/ssl-cert-snakeoil.pem"}) == []


@pytest.mark.parametrize("sep", LINE_BREAKS)
def test_a_username_with_a_line_break_is_refused(sep):
    relay = {"host": "relay.example.test", "username": f"notify{sep}[evil.test]:25 a", "password": PASSWORD}
    errors = check_inputs(relay={"mail_notifications_relay": relay})
    assert len(errors) == 1 and errors[0].startswith("mail_notifications_relay_username: ")


@pytest.mark.parametrize("sep", [*LINE_BREAKS, *CONTROLS, "\x00"])
def test_a_password_with_a_line_break_is_refused_without_showing_it(sep):
    password = f"{PASSWORD}{sep}[evil.test]:25 me:{PASSWORD}"
    errors = check_inputs(relay={"mail_notifications_relay": {"host": "relay.example.test", "username": "bot", "password": password}})
    assert len(errors) == 1 and errors[0].startswith("mail_notifications_relay_password: ")
    assert PASSWORD not in errors[0] and "evil" not in errors[0]


def test_a_username_with_a_colon_is_refused():
    errors = check_inputs(relay={"mail_notifications_relay": {"host": "r.example.test", "username": "notify:bot", "password": PASSWORD}})
    assert errors == ["mail_notifications_relay_username: must not contain ':' (Postfix reads the SASL map value as user:password, split at the first colon)"]


@pytest.mark.parametrize("password", [f"{PASSWORD} ", f" {PASSWORD}", f"{PASSWORD}\u00a0"])
def test_a_password_that_postmap_would_trim_is_refused(password):
    errors = check_inputs(relay={"mail_notifications_relay": {"host": "r.example.test", "username": "bot", "password": password}})
    assert len(errors) == 1 and "white space" in errors[0] and PASSWORD not in errors[0]


def test_a_password_may_hold_colons_spaces_inside_and_utf8():
    relay = {"host": "r.example.test", "username": "bot@example.test", "password": "pa:ss wörd"}
    assert check_inputs(relay={"mail_notifications_relay": relay}) == []


def test_fallback_and_sender_relays_are_checked_and_named_by_index():
    errors = check_inputs(
        relay_lists={
            "mail_notifications_relay_fallbacks": [
                {"host": "ok.example.test", "port": 587, "username": "a", "password": PASSWORD},
                {"host": "b.example.test\u2028", "port": 587},
            ],
            "mail_notifications_sender_dependent_relays": [
                {"sender": "@ops.example.test", "host": "c.example.test", "username": "u\nv", "password": f"{PASSWORD}\n"},
                {"sender": "a b@ops.example.test", "host": "d.example.test"},
            ],
        }
    )
    assert [e.split(":")[0] for e in errors] == [
        "mail_notifications_relay_fallbacks[1].host",
        "mail_notifications_sender_dependent_relays[0].username",
        "mail_notifications_sender_dependent_relays[0].password",
        "mail_notifications_sender_dependent_relays[1].sender",
    ]
    assert not any(PASSWORD in e for e in errors)


@pytest.mark.parametrize("sep", LINE_BREAKS)
def test_one_line_values_are_checked(sep):
    errors = check_inputs(lines={"mail_notifications_helo_domain": f"mail.example.test{sep}always_bcc = spy@evil.test"})
    assert len(errors) == 1 and errors[0].startswith("mail_notifications_helo_domain: ")
    # The value is shown with its unusual characters escaped, never raw.
    assert sep not in errors[0]


@pytest.mark.parametrize("name", ["relayhost\n", "relayhost\r", "relay host", "RelayHost", "1abc", "always_bcc\u2028"])
def test_extra_parameter_names_must_fully_match(name):
    errors = check_inputs(extra={"mail_notifications_postfix_extra": {name: "x"}})
    assert len(errors) == 1
    assert errors[0].startswith("mail_notifications_postfix_extra: parameter names must be Postfix names")


def test_extra_may_not_set_owned_parameters():
    errors = check_inputs(extra={"mail_notifications_postfix_extra": {"relayhost": "[evil.test]", "mydestination": "x", "smtpd_banner": "hi"}})
    assert errors == [
        "mail_notifications_postfix_extra: ['mydestination', 'relayhost'] are set by the role from validated variables; use those variables instead"
    ]


@pytest.mark.parametrize("sep", LINE_BREAKS)
def test_extra_values_must_be_one_line(sep):
    errors = check_inputs(extra={"mail_notifications_postfix_extra": {"smtpd_banner": f"hi{sep}always_bcc = spy@evil.test"}})
    assert len(errors) == 1 and "values must be one line" in errors[0]


def test_extra_enumerated_values_are_checked_together():
    errors = check_inputs(
        extra={"mail_notifications_postfix_extra": {"lmtp_tls_security_level": "bogus", "smtpd_tls_wrappermode": "maybe", "disable_vrfy_command": True}}
    )
    assert errors == [
        "mail_notifications_postfix_extra: lmtp_tls_security_level = bogus is not one of none, may, encrypt, dane, dane-only, fingerprint, "
        "verify, secure; smtpd_tls_wrappermode = maybe is not one of yes, no (postfix check accepts these, Postfix would not work)"
    ]


def test_an_owned_parameter_with_a_bad_value_breaks_both_rules():
    errors = check_inputs(extra={"mail_notifications_postfix_extra": {"smtp_tls_wrappermode": "maybe"}})
    assert errors == [
        "mail_notifications_postfix_extra: ['smtp_tls_wrappermode'] are set by the role from validated variables; use those variables instead",
        "mail_notifications_postfix_extra: smtp_tls_wrappermode = maybe is not one of yes, no (postfix check accepts these, Postfix would not work)",
    ]


def test_the_role_still_owns_what_it_owned():
    assert {"relayhost", "mynetworks", "mydestination", "smtpd_recipient_restrictions", "smtp_sasl_password_maps", "relay_domains"} <= OWNED_PARAMETERS


def test_the_filter_reports_errors_and_refuses_bad_shapes():
    assert postfix_input_errors({"lines": {"v": "a\u0085b"}})[0].startswith("v: ")
    assert postfix_input_errors({"lines": {"v": "ab"}}) == []
    with pytest.raises(AnsibleFilterError, match="unknown groups"):
        postfix_input_errors({"nope": {}})
    assert postfix_input_errors({"relay_lists": {"x": "not a list"}, "relay": {"r": "x"}, "extra": {"e": ["a"]}}) == [
        "r: must be a relay (host, username, password)",
        "x: must be a list of relays (dicts)",
        "e: must be a dict of Postfix parameters",
    ]
