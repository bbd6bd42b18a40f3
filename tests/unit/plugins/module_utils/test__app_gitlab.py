# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import difflib
import json
import pathlib
import re
import shutil
import subprocess

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._app_gitlab import (
    MAPPED_KEYS,
    GitlabBackend,
    parse_ruby_literal,
    read_keys,
    ruby_literal,
)
from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    MASK,
    SettingsFormatError,
    SettingsValidationError,
    build_desired,
    plan,
)
from ansible_collections.mailops.notify.tests.unit.plugins.fixtures.app_secrets import FILE_SECRETS
from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import PASSWORD, USERNAME, SmtpServer

FIXTURE = (pathlib.Path(__file__).parent.parent / "fixtures" / "gitlab.rb").read_text()
BACKEND = GitlabBackend()
SECRET = "Pw#{not}interpolated\\x"
RUBY = shutil.which("ruby")

# Evaluates gitlab.rb with the real Ruby parser and prints gitlab_rails as JSON.
RUBY_EVAL = r"""
require 'json'
class Cfg < Hash; end
gitlab_rails = Cfg.new; letsencrypt = Cfg.new; nginx = Cfg.new; puma = Cfg.new; sidekiq = Cfg.new
def external_url(*) end
def registry_external_url(*) end
def roles(*) end
eval(File.read(ARGV[0]), binding, ARGV[0])
puts JSON.generate(gitlab_rails)
"""


def run(text: str, **params: object):
    return plan(BACKEND, text, build_desired("gitlab", params, BACKEND), header="gitlab.rb")


def ruby_values(tmp_path: pathlib.Path, text: str) -> dict:
    assert RUBY, "Debian's ruby package is required (apt-get install ruby)"
    path = tmp_path / "gitlab.rb"
    path.write_text(text)
    check = subprocess.run([RUBY, "-c", str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert check.returncode == 0 and "Syntax OK" in check.stdout, check.stderr
    out = subprocess.run([RUBY, "-e", RUBY_EVAL, str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line[1:]
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


FULL = {
    "enabled": True,
    "host": "email-smtp.eu-west-1.amazonaws.com",
    "port": 465,
    "security": "tls",
    "auth": "login",
    "username": "AKIAEXAMPLE",
    "password": SECRET,
    "helo_domain": "gitlab.example.com",
    "from_address": "gitlab@example.com",
    "from_name": "GitLab 'Ops' #1",
    "reply_to": "noreply@example.com",
    "validate_certs": True,
    "extra": {"smtp_pool": True, "gitlab_email_subject_suffix": " [gitlab]"},
}


def test_full_settings_are_valid_ruby_with_the_right_values(tmp_path: pathlib.Path) -> None:
    result = run(FIXTURE, **FULL)
    assert result.changed
    values = ruby_values(tmp_path, result.after)
    assert values == {
        "time_zone": "Europe/Berlin",
        "db_password": "gitlab-DB-Secret-42",
        "initial_root_password": "Root-Initial-Secret-7",
        "incoming_email_password": "Incoming-Mail-Secret-9",
        "gitlab_email_enabled": True,
        "gitlab_email_from": "gitlab@example.com",
        "gitlab_email_display_name": "GitLab 'Ops' #1",
        "gitlab_email_reply_to": "noreply@example.com",
        "gitlab_email_subject_suffix": " [gitlab]",
        "smtp_enable": True,
        "smtp_address": "email-smtp.eu-west-1.amazonaws.com",
        "smtp_port": 465,
        "smtp_user_name": "AKIAEXAMPLE",
        "smtp_password": SECRET,
        "smtp_domain": "gitlab.example.com",
        "smtp_authentication": "login",
        "smtp_enable_starttls_auto": False,
        "smtp_tls": True,
        "smtp_pool": True,
        "smtp_openssl_verify_mode": "peer",
    }
    # only gitlab_rails smtp/email lines were added; nothing removed
    lines = changed_lines(FIXTURE, result.after)
    assert len(lines) == 16
    assert all(re.match(r"^gitlab_rails\['(smtp_|gitlab_email_)[a-z_]+'\] = ", line) for line in lines)
    assert result.after.splitlines()[: FIXTURE.count("\n")] != FIXTURE.splitlines()  # lines were inserted, not appended
    kept = [line for line in result.after.splitlines() if line not in lines]
    assert kept == FIXTURE.splitlines()
    # each new line sits right after its commented template line
    after_lines = result.after.splitlines()
    index = after_lines.index("gitlab_rails['smtp_address'] = \"email-smtp.eu-west-1.amazonaws.com\"")
    assert after_lines[index - 1] == "# gitlab_rails['smtp_address'] = \"smtp.server\""
    assert SECRET not in json.dumps({"diff": result.diff, "settings": result.settings})
    assert json.loads(result.diff["after"])["smtp_password"] == MASK
    again = run(result.after, **FULL)
    assert again.changed is False and again.after == result.after


@pytest.mark.parametrize(
    "security, port, starttls, tls",
    [("tls", 465, False, True), ("starttls", 587, True, False), ("none", 25, False, False)],
)
def test_security_mapping(tmp_path: pathlib.Path, security: str, port: int, starttls: bool, tls: bool) -> None:
    values = ruby_values(tmp_path, run(FIXTURE, host="smtp.example.com", port=port, security=security).after)
    assert (values["smtp_port"], values["smtp_enable_starttls_auto"], values["smtp_tls"]) == (port, starttls, tls)
    assert BACKEND.read(run(FIXTURE, security=security).after)["security"] == security


def test_active_lines_are_rewritten_in_place(tmp_path: pathlib.Path) -> None:
    text = FIXTURE + "gitlab_rails['smtp_address'] = 'old.example.com'  # set by hand\ngitlab_rails[\"smtp_port\"] = 25\n"
    result = run(text, host="smtp.example.com", port=587, security="starttls")
    tail = result.after.splitlines()[-2:]
    assert tail == ["gitlab_rails['smtp_address'] = \"smtp.example.com\"  # set by hand", 'gitlab_rails["smtp_port"] = 587']
    assert ruby_values(tmp_path, result.after)["smtp_address"] == "smtp.example.com"


def test_auth_none_writes_nil(tmp_path: pathlib.Path) -> None:
    first = run(FIXTURE, host="smtp.example.com", port=587, security="starttls", auth="plain", username="u", password=SECRET)
    second = run(first.after, provider="local_postfix")
    values = ruby_values(tmp_path, second.after)
    assert values["smtp_authentication"] is None and values["smtp_user_name"] is None and values["smtp_password"] is None
    assert values["smtp_address"] == "localhost" and values["smtp_port"] == 25
    assert BACKEND.read(second.after)["password"] == ""


def test_no_template_lines_appends_at_end(tmp_path: pathlib.Path) -> None:
    text = "external_url 'https://gitlab.example.com'\n"
    result = run(text, host="smtp.example.com", from_address="gitlab@example.com")
    assert result.after == text + "gitlab_rails['smtp_address'] = \"smtp.example.com\"\ngitlab_rails['gitlab_email_from'] = \"gitlab@example.com\"\n"
    ruby_values(tmp_path, result.after)


def test_dynamic_password_is_unknown() -> None:
    text = FIXTURE + (
        "gitlab_rails['smtp_enable_starttls_auto'] = true\ngitlab_rails['smtp_user_name'] = 'u'\ngitlab_rails['smtp_password'] = ENV['SMTP_PASSWORD']\n"
    )
    assert BACKEND.read(text)["password"] is None
    kept = run(text, password=SECRET, update_password="on_create")
    assert kept.changed is False
    assert kept.warnings == ["gitlab.rb: gitlab_rails['smtp_password'] is not a literal; it was left as it is"]
    replaced = run(text, password=SECRET)
    assert replaced.changed is True
    assert any("does not reveal the stored password" in warning for warning in replaced.warnings)


@pytest.mark.parametrize(
    "params, option, fragment",
    [
        ({"password": "it's", "username": "u", "security": "starttls"}, "password", "string delimiters"),
        ({"extra": {"incoming_email_enabled": True}}, "extra.incoming_email_enabled", "smtp_* or gitlab_email_*"),
        ({"host": "smtp.example.com", "extra": {"smtp_address": "x"}}, "extra.smtp_address", "option host"),
        ({"extra": {"smtp_openssl_verify_mode": "strict"}}, "extra.smtp_openssl_verify_mode", "none, peer"),
        ({"extra": {"smtp_ca_path": ["a"]}}, "extra.smtp_ca_path", "must be a string"),
    ],
)
def test_rules(params: dict, option: str, fragment: str) -> None:
    with pytest.raises(SettingsValidationError) as exc:
        run(FIXTURE, **params)
    assert exc.value.option == option
    assert fragment in exc.value.rule


def test_extra_verify_mode_without_validate_certs(tmp_path: pathlib.Path) -> None:
    values = ruby_values(tmp_path, run(FIXTURE, extra={"smtp_openssl_verify_mode": "client_once"}).after)
    assert values["smtp_openssl_verify_mode"] == "client_once"


@pytest.mark.parametrize(
    "rhs, value",
    [
        ('"smtp.server"', "smtp.server"),
        ("'a\\'b'  # note", "a'b"),
        ('"tab\\there"', "tab\there"),
        ("465", 465),
        ("true", True),
        ("nil", None),
        (":login", "login"),
    ],
)
def test_parse_ruby_literal(rhs: str, value: object) -> None:
    assert parse_ruby_literal(rhs)[0] == value


@pytest.mark.parametrize("rhs", ['"a#{b}"', "ENV['X']", "'open", "465 + 1"])
def test_not_literals(rhs: str) -> None:
    assert read_keys(f"gitlab_rails['smtp_x'] = {rhs}\n")["smtp_x"] != rhs


@pytest.mark.parametrize("value", ["plain", "a'b", 'a"b', "a\\b", "#{x}", "line\nbreak", "", None, 0, False])
def test_ruby_literal_round_trip(tmp_path: pathlib.Path, value: object) -> None:
    text = f"gitlab_rails['smtp_x'] = {ruby_literal(value)}\n"
    assert read_keys(text)["smtp_x"] == value
    assert ruby_values(tmp_path, text)["smtp_x"] == value


def test_diff_holds_only_owned_keys() -> None:
    stored = FIXTURE + "gitlab_rails['smtp_password'] = 'Stored-Pw-66'\ngitlab_rails['smtp_ca_file'] = ENV['CA']\n"
    result = run(stored, **FULL)
    before, after = json.loads(result.diff["before"]), json.loads(result.diff["after"])
    assert set(before) == {"smtp_password", "smtp_ca_file"}
    assert before["smtp_password"] == MASK and before["smtp_ca_file"] == {"expression": "ENV['CA']"}
    assert set(after) == {
        *(f"smtp_{k}" for k in ("enable", "address", "port", "user_name", "password", "domain", "authentication")),
        *(
            "smtp_enable_starttls_auto",
            "smtp_tls",
            "smtp_pool",
            "smtp_openssl_verify_mode",
            "smtp_ca_file",
            "gitlab_email_enabled",
            "gitlab_email_from",
            "gitlab_email_display_name",
            "gitlab_email_reply_to",
            "gitlab_email_subject_suffix",
        ),
    }
    assert after["smtp_password"] == MASK and after["smtp_address"] == FULL["host"]
    dumped = json.dumps(result.diff) + json.dumps(result.settings)
    for secret in (SECRET, "Stored-Pw-66", *FILE_SECRETS["gitlab"]):
        assert secret not in dumped


# Characters that str.splitlines() splits on, inside existing string literals: Ruby reads them as part of the string.
SEPARATORS = "\u2028\u2029\x85\x0c\x0b\x1c\x1d\x1e\r"


def test_existing_line_separators_stay_inside_their_line(tmp_path: pathlib.Path) -> None:
    text = FIXTURE + (
        "gitlab_rails['smtp_password'] = \"old" + SEPARATORS + 'tail-of-Old-Pw"\n'
        "gitlab_rails['gitlab_email_display_name'] = 'Git" + SEPARATORS + "Lab'\n"
        "gitlab_rails['smtp_address'] = 'old.example.com'\n"
    )
    assert ruby_values(tmp_path, text)["smtp_password"] == "old" + SEPARATORS + "tail-of-Old-Pw"
    assert BACKEND.read(text)["password"] == "old" + SEPARATORS + "tail-of-Old-Pw"
    params = {"host": "smtp.example.com", "port": 587, "security": "starttls", "username": "u", "password": SECRET}
    first = run(text, **params)
    values = ruby_values(tmp_path, first.after)
    assert values["smtp_password"] == SECRET and values["smtp_address"] == "smtp.example.com"
    assert values["gitlab_email_display_name"] == "Git" + SEPARATORS + "Lab"
    assert "tail-of-Old-Pw" not in json.dumps(first.diff)
    second = run(first.after, **params)
    assert second.changed is False and second.after == first.after
    ruby_values(tmp_path, second.after)


@pytest.mark.parametrize(
    "rhs",
    [
        '"first line\nsecond-Line-Pw"',
        "'first line\nsecond'",
        '"a" +\n  "b"',
        "ENV.fetch(\n  'SMTP_PASSWORD', 'unset')",
        "<<~PW\n  heredoc-Pw\nPW",
        "%q{a\nb}",
        '"a" \\\n  "b"',
    ],
)
def test_a_value_on_several_lines_is_refused(tmp_path: pathlib.Path, rhs: str) -> None:
    text = FIXTURE + f"gitlab_rails['smtp_password'] = {rhs}\ngitlab_rails['smtp_address'] = 'old.example.com'\n"
    ruby_values(tmp_path, text)  # valid Ruby to start with
    with pytest.raises(SettingsFormatError) as exc:
        run(text, password=SECRET, username="u", security="starttls")
    line = FIXTURE.count("\n") + 1
    assert str(exc.value).startswith(f"gitlab.rb line {line}: gitlab_rails['smtp_password'] continues on the next line")
    assert "Pw" not in str(exc.value)
    # a key on one line next to it can still be changed
    other = run(text, host="smtp.example.com")
    assert ruby_values(tmp_path, other.after)["smtp_address"] == "smtp.example.com"


@pytest.mark.parametrize("rhs", ["ENV['SMTP_PASSWORD']", "ENV.fetch('X', 'y') # note", "File.read('/run/secrets/pw').strip", "'a' + 'b'", "100 % 7"])
def test_one_line_expressions_can_be_replaced(tmp_path: pathlib.Path, rhs: str) -> None:
    text = FIXTURE + f"gitlab_rails['smtp_user_name'] = 'u'\ngitlab_rails['smtp_password'] = {rhs}\n"
    result = run(text, password=SECRET, security="starttls")
    assert result.changed
    assert ruby_values(tmp_path, result.after)["smtp_password"] == SECRET


# ---- A leftover smtp_ssl: GitLab treats it like smtp_tls ------------------------------------------------------------------

LEFTOVER_SSL = FIXTURE + "gitlab_rails['smtp_tls'] = false\ngitlab_rails['smtp_ssl'] = true\n"


@pytest.mark.parametrize("security, port", [("starttls", 587), ("none", 25)])
def test_leftover_smtp_ssl_is_set_false_when_security_is_managed(tmp_path: pathlib.Path, security: str, port: int) -> None:
    assert BACKEND.read(LEFTOVER_SSL)["security"] == "tls"  # what GitLab does with it today
    result = run(LEFTOVER_SSL, host="smtp.example.com", port=port, security=security)
    values = ruby_values(tmp_path, result.after)
    assert values["smtp_ssl"] is False and values["smtp_tls"] is False
    assert values["smtp_enable_starttls_auto"] is (security == "starttls")
    assert result.settings["security"] == security
    assert result.after.endswith("gitlab_rails['smtp_tls'] = false\ngitlab_rails['smtp_ssl'] = false\n")  # rewritten in place
    assert result.warnings == [
        "gitlab.rb: gitlab_rails['smtp_ssl'] was set to false; GitLab treats smtp_ssl like smtp_tls (implicit TLS),"
        f" so the leftover value would have overridden security={security}"
    ]
    again = run(result.after, host="smtp.example.com", port=port, security=security)
    assert again.changed is False and again.warnings == []


def test_smtp_ssl_is_left_alone_when_it_cannot_contradict() -> None:
    # security=tls: smtp_tls is true anyway; no smtp_ssl line: none is added; smtp_ssl false or nil: nothing to correct
    assert "smtp_ssl" not in read_keys(run(FIXTURE, security="starttls").after)
    assert read_keys(run(LEFTOVER_SSL, port=465, security="tls").after)["smtp_ssl"] is True
    for value in ("false", "nil"):
        text = FIXTURE + f"gitlab_rails['smtp_ssl'] = {value}\n"
        assert run(text, security="starttls").after.endswith(f"gitlab_rails['smtp_ssl'] = {value}\n")
    # an expression is replaced: the module owns smtp_ssl together with security
    dynamic = run(FIXTURE + "gitlab_rails['smtp_ssl'] = ENV['SMTP_SSL']\n", port=587, security="starttls")
    assert dynamic.after.endswith("gitlab_rails['smtp_ssl'] = false\n")


def test_contradictions_are_warned_about_when_security_is_not_managed() -> None:
    for key in ("smtp_ssl", "smtp_tls"):
        text = FIXTURE + f"gitlab_rails['smtp_enable_starttls_auto'] = true\ngitlab_rails['{key}'] = true\n"
        result = run(text, from_address="gitlab@example.com")
        assert result.after.endswith(f"gitlab_rails['{key}'] = true\n")  # not managed: left as it is
        assert any(
            warning.startswith(f"gitlab.rb sets gitlab_rails['{key}'] = true together with gitlab_rails['smtp_enable_starttls_auto'] = true")
            for warning in result.warnings
        ), result.warnings


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ({"smtp_ssl": True}, "already set through the option security"),
        ({"smtp_enable_starttls": True}, "does not map gitlab_rails['smtp_enable_starttls']"),
        ({"smtp_tls_enabled": True}, "gitlab-ctl reconfigure would ignore it"),
        ({"gitlab_email_reply": "x@example.com"}, "does not map"),
    ],
)
def test_extra_keys_omnibus_does_not_map_are_refused(extra: dict, fragment: str) -> None:
    with pytest.raises(SettingsValidationError) as exc:
        run(FIXTURE, security="starttls", port=587, extra=extra)
    assert exc.value.option == f"extra.{next(iter(extra))}"
    assert fragment in exc.value.rule


def test_every_mapped_key_is_accepted_in_extra() -> None:
    # the keys of smtp_settings.rb.erb, smtp_enable/smtp_pool and the gitlab_email_* attributes, minus those an option sets
    free = sorted(key for key in MAPPED_KEYS if key not in ("smtp_password", "smtp_openssl_verify_mode") and not key.startswith("smtp_user"))
    assert len(MAPPED_KEYS) == 25
    values = read_keys(run(FIXTURE, extra={key: 1 for key in free}).after)
    assert all(values[key] == 1 for key in free)


RUBY_MAIL = r"""
require 'json'
require 'mail'
class Cfg < Hash; end
gitlab_rails = Cfg.new; letsencrypt = Cfg.new; nginx = Cfg.new; puma = Cfg.new; sidekiq = Cfg.new
def external_url(*) end
def registry_external_url(*) end
def roles(*) end
eval(File.read(ARGV[0]), binding, ARGV[0])
# The settings hash as omnibus-gitlab's smtp_settings.rb.erb builds it: authentication, user_name, password, then each of
# these keys whose value is not nil.
settings = { authentication: gitlab_rails['smtp_authentication']&.to_sym, user_name: gitlab_rails['smtp_user_name'],
             password: gitlab_rails['smtp_password'] }
%w{address port domain enable_starttls_auto tls ssl openssl_verify_mode ca_path ca_file open_timeout read_timeout}.each do |key|
  value = gitlab_rails["smtp_#{key}"]
  settings[key.to_sym] = value unless value.nil?
end
mail = Mail.new do
  from gitlab_rails['gitlab_email_from']
  to 'ops@example.test'
  subject 'GitLab test'
  body 'sent through the rendered gitlab.rb'
end
mail.delivery_method :smtp, settings
begin
  mail.deliver!
  puts JSON.generate({ 'result' => 'sent' })
rescue StandardError => e
  puts JSON.generate({ 'result' => e.class.name })
end
"""


@pytest.mark.parametrize("leftover", ["gitlab_rails['smtp_ssl'] = true\n", ""])
def test_mail_gem_sends_with_starttls_through_the_rendered_file(certs, tmp_path: pathlib.Path, leftover: str) -> None:
    """Ruby's Mail gem (the delivery method GitLab's ActionMailer uses) reads the rendered gitlab.rb as the Omnibus template
    maps it and sends to aiosmtpd on 127.0.0.1, which offers STARTTLS and takes AUTH only after it."""
    assert RUBY, "Debian's ruby package is required (apt-get install ruby)"
    server = SmtpServer(certs, mode="starttls", auth_required=True)
    with server:
        params = {"enabled": True, "host": "127.0.0.1", "port": server.port, "security": "starttls", "auth": "plain"}
        params |= {"username": USERNAME, "password": PASSWORD, "from_address": "gitlab@example.test", "validate_certs": True}
        result = run(FIXTURE + leftover, **params, extra={"smtp_ca_file": certs.ca_file})
        path = tmp_path / "gitlab.rb"
        path.write_text(result.after)
        out = subprocess.run([RUBY, "-e", RUBY_MAIL, str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"result": "sent"}
    assert len(server.messages) == 1 and server.messages[0]["rcpt_tos"] == ["ops@example.test"]
    assert "sent through the rendered gitlab.rb" in server.messages[0]["content"]
    assert PASSWORD not in out.stdout + out.stderr
