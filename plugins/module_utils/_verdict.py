# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The troubleshooting verdict: from the evidence a playbook gathered to the hops of the mail path and one line each way.

The evidence is a dictionary of module results, each optional (a missing or skipped piece makes its hops ``unknown``):

``port_check``
    the result of ``mailops.notify.port_check`` (egress to the relay in ``targets``, local port 25 in ``listening``);
``smtp_probe``
    the result of ``mailops.notify.smtp_test`` against the relay (probe mode);
``dns``
    the result of ``mailops.notify.dns_mail_records`` with ``state=verify``;
``firewall``
    the firewall state as data: ``{"backend": "nftables", "output": "<nft list ruleset>", "rc": 0}`` (``backend`` may
    instead be given on a first output line ``backend: nftables``);
``mail_log``
    the result of ``mailops.notify.mail_log_info``;
``postconf``
    the output of ``postconf -n`` (text or list of lines);
``relay``
    ``{"host": ..., "port": ..., "security": ...}``, the relay the host should use (else read from ``relayhost``);
``inbound``
    whether inbound mail (replies) is expected; guessed from the other evidence when not given;
``reply_domain``, ``outside_port_check``
    optional: the reply domain (default ``reply.<hostname>``), and a ``port_check`` result run from outside towards
    port 25 of the host.

:func:`analyze` returns the hops (outbound: app → Postfix → relay → recipient; inbound: outside → MX → port 25 → reply
Maildir), each ``ok``, ``failed`` or ``unknown`` with its evidence and a diagnosis from the shared catalogue, and one
verdict line per direction.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailops.notify.plugins.module_utils._diagnosis import CATALOGUE, diagnose_text, parse_enhanced_code

__all__ = [
    "HOP_STATUSES",
    "Hop",
    "Verdict",
    "VerdictError",
    "analyze",
    "firewall_port_state",
    "parse_postconf",
]

HOP_STATUSES = ("ok", "failed", "unknown")

# Diagnoses that describe the connection to the next server (the relay hop), the others describe a message.
_RELAY_CODES = frozenset(
    {
        "connection_refused",
        "timeout",
        "dns_failure",
        "no_route",
        "connection_closed",
        "tls_on_starttls_port",
        "starttls_on_tls_port",
        "starttls_not_offered",
        "tls_handshake_failed",
        "cert_untrusted",
        "cert_expired",
        "cert_hostname_mismatch",
        "auth_not_offered",
        "auth_requires_tls",
        "sasl_no_mechanism",
        "must_issue_starttls",
        "auth_required",
        "auth_failed",
        "relay_denied",
        "protocol_error",
    }
)

# What went wrong and what to do, short enough for one line. {peer} is the server, {port} its port.
_PHRASES: t.Mapping[str, tuple[str, str]] = {
    "auth_failed": ("{who} rejects the credentials", "check the username and the (app) password"),
    "auth_required": ("{who} requires authentication", "set the relay username and password"),
    "auth_not_offered": ("{who} does not offer AUTH", "use the submission port 587 (starttls) or 465 (tls)"),
    "auth_requires_tls": ("{who} offers AUTH only over TLS", "use security starttls (587) or tls (465)"),
    "must_issue_starttls": ("{who} requires STARTTLS", "use security starttls (587) or tls (465)"),
    "starttls_not_offered": ("{who} does not offer STARTTLS", "use port 587 with starttls or port 465 with tls"),
    "tls_on_starttls_port": ("implicit TLS was tried on {peer}, a STARTTLS port", "use security starttls, or port 465 for tls"),
    "starttls_on_tls_port": ("plaintext SMTP was tried on {peer}, an implicit-TLS port", "use security tls on port 465"),
    "tls_handshake_failed": ("the TLS handshake with {peer} failed", "compare the TLS versions and ciphers of both sides"),
    "cert_untrusted": ("the certificate of {peer} is not trusted", "install the issuing CA (ca_path, smtp_tls_CAfile)"),
    "cert_expired": ("the certificate of {peer} has expired", "renew it and check the clocks"),
    "cert_hostname_mismatch": ("the certificate of {peer} does not match its name", "connect with the name in the certificate"),
    "connection_refused": ("{peer} refuses the connection", "check the host and port and that the server is running"),
    "timeout": ("no answer from {peer} (timeout)", "outbound port {port} is probably blocked by a firewall or the provider"),
    "dns_failure": ("the name {host} does not resolve", "check the spelling and the resolver (/etc/resolv.conf)"),
    "no_route": ("no route to {peer}", "check routing and the default gateway"),
    "connection_closed": ("{peer} closed the connection", "read the log of {peer}"),
    "relay_denied": ("{who} refuses to relay for this host", "authenticate, or allow this host on the relay"),
    "sender_not_allowed": ("{who} does not accept the sender address", "use a From address the account may send as"),
    "unknown_recipient": ("the recipient address does not exist", "check the recipient address"),
    "message_rejected": ("the message was rejected after DATA", "check size limits and content filters"),
    "temporary_failure": ("{who} reports a temporary failure", "retry later; look for greylisting or rate limits"),
    "protocol_error": ("{peer} does not speak SMTP as expected", "check that the port runs an SMTP server"),
    "sasl_no_mechanism": ("Postfix finds no usable SASL mechanism", "install libsasl2-modules, check smtp_sasl_mechanism_filter"),
}

_PORT_STATE_CODES = {
    "refused": "connection_refused",
    "timeout": "timeout",
    "unreachable": "no_route",
    "dns_error": "dns_failure",
}

_LOCAL_RELAYS = ("virtual", "local", "discard", "lmtp", "pipe", "maildrop", "dovecot")


class VerdictError(Exception):
    """Base class of the errors of this module util."""


class EvidenceError(VerdictError):
    """A piece of evidence has the wrong shape."""


@dataclass
class Hop:
    direction: str
    key: str
    source: str
    target: str
    status: str = "unknown"
    summary: str = ""
    evidence: list[str] = field(default_factory=list)
    diagnosis: dict[str, str] | None = None

    @property
    def label(self) -> str:
        return f"{self.source} \u2192 {self.target}"

    def fail(self, summary: str, diagnosis: str | dict | None = None) -> None:
        self.status = "failed"
        self.summary = summary
        if isinstance(diagnosis, str):
            diagnosis = CATALOGUE[diagnosis].as_dict() if diagnosis in CATALOGUE else None
        self.diagnosis = dict(diagnosis) if diagnosis else None

    def succeed(self, summary: str) -> None:
        self.status = "ok"
        self.summary = summary

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "direction": self.direction,
            "key": self.key,
            "label": self.label,
            "source": self.source,
            "target": self.target,
            "status": self.status,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "diagnosis": self.diagnosis,
        }


@dataclass
class Verdict:
    hops: list[Hop]
    verdicts: list[str]
    inbound_checked: bool

    @property
    def ok(self) -> bool:
        return not any(hop.status == "failed" for hop in self.hops)

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "ok": self.ok,
            "verdicts": list(self.verdicts),
            "hops": [hop.as_dict() for hop in self.hops],
            "inbound_checked": self.inbound_checked,
        }

    def text(self) -> str:
        lines = list(self.verdicts)
        for hop in self.hops:
            lines.append("")
            lines.append(f"[{hop.status.upper()}] {hop.direction}: {hop.label}" + (f" - {hop.summary}" if hop.summary else ""))
            lines.extend(f"    {item}" for item in hop.evidence)
            if hop.diagnosis:
                lines.append(f"    diagnosis {hop.diagnosis.get('code')}: {hop.diagnosis.get('summary')}")
                lines.append(f"    hint: {hop.diagnosis.get('hint')}")
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------- helpers


def _present(value: t.Any) -> bool:
    """A usable module result: a non-empty dict that was not skipped."""
    return isinstance(value, t.Mapping) and bool(value) and not value.get("skipped")


def _mapping(evidence: t.Mapping[str, t.Any], key: str) -> t.Mapping[str, t.Any] | None:
    value = evidence.get(key)
    if value is None:
        return None
    if not isinstance(value, t.Mapping):
        raise EvidenceError(f"evidence {key} must be a dictionary (a registered module result), not {type(value).__name__}")
    return value if _present(value) else None


def _phrase(code: str | None, *, who: str, peer: str, host: str = "", port: t.Any = "") -> tuple[str, str]:
    if code in _PHRASES:
        what, advice = _PHRASES[code]
    else:
        diagnosis = CATALOGUE.get(code or "unknown", CATALOGUE["unknown"])
        what = diagnosis.summary.rstrip(".")
        what = what[:1].lower() + what[1:]
        advice = diagnosis.hint.split(";")[0].split(". ")[0].rstrip(".")
        advice = advice[:1].lower() + advice[1:]
    values = {"who": who, "peer": peer, "host": host or peer, "port": port or "?"}
    return what.format(**values), advice.format(**values)


def parse_postconf(text: str | t.Sequence[str] | None) -> dict[str, str]:
    """Parse ``postconf -n`` output into a dictionary of parameter names and values."""
    if not text:
        return {}
    lines = text.splitlines() if isinstance(text, str) else [str(line) for line in text]
    result = {}
    for line in lines:
        name, sep, value = line.partition("=")
        if sep and name.strip() and not name.strip().startswith("#"):
            result[name.strip()] = value.strip()
    return result


def _split_relayhost(value: str) -> tuple[str, int | None]:
    """``[smtp.example.com]:587`` -> (``smtp.example.com``, 587)."""
    value = (value or "").strip().split(",")[0].strip()
    if not value:
        return "", None
    match = re.match(r"^\[?([^\]]+?)\]?(?::(\d+))?$", value)
    if not match:
        return value, None
    return match.group(1), int(match.group(2)) if match.group(2) else None


def _relay_target(evidence: t.Mapping[str, t.Any], postconf: t.Mapping[str, str]) -> dict[str, t.Any]:
    relay = evidence.get("relay") if isinstance(evidence.get("relay"), t.Mapping) else {}
    host = str(relay.get("host") or "")
    port = relay.get("port") or None
    if not host:
        host, port = _split_relayhost(postconf.get("relayhost", ""))
    probe = _mapping(evidence, "smtp_probe")
    if not host and probe:
        host, port = str(probe.get("host") or ""), probe.get("port")
    if host and not port and probe and probe.get("host") == host:
        port = probe.get("port")
    return {"host": host, "port": int(port) if port else None, "security": relay.get("security")}


def _hostport(host: str, port: t.Any) -> str:
    if not host:
        return "?"
    if port:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return host


def _reply_code(code: t.Any, text: str = "", enhanced: str | None = None) -> str:
    enhanced = enhanced or parse_enhanced_code(text or "")
    parts = [str(code)] if isinstance(code, int) and code > 0 else []
    if enhanced:
        parts.append(enhanced)
    return " ".join(parts)


def _log_reply_code(reply: str, dsn: str | None = None) -> str:
    match = re.search(r"said:\s*(\d{3})[ -]?([245]\.\d{1,3}\.\d{1,3})?", reply or "")
    if match:
        return " ".join(p for p in (match.group(1), match.group(2) or dsn) if p)
    match = re.match(r"\s*(\d{3})[ -]([245]\.\d{1,3}\.\d{1,3})?", reply or "")
    if match:
        return " ".join(p for p in (match.group(1), match.group(2) or dsn) if p)
    return dsn or ""


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return address in ("localhost",)


def _short_ns(label: str) -> str:
    """``ns2.example.com (198.51.100.53:53)`` -> ``ns2.example.com``; ``127.0.0.1:5353`` stays."""
    return label.split(" (", maxsplit=1)[0] if label else "?"


# ----------------------------------------------------------------------------------------------------------- firewall

_NFT_CHAIN_RE = re.compile(r"^\s*chain\s+(\S+)\s*\{")
_NFT_POLICY_RE = re.compile(r"policy\s+(accept|drop)")
_VERDICT_RE = re.compile(r"\b(accept|drop|reject)\b")


def _dport_matches(rule: str, port: int) -> bool:
    match = re.search(r"\b(?:tcp|th)\s+dport\s+(\{[^}]*\}|\S+)", rule)
    if not match:
        return False
    spec = match.group(1).strip("{} ")
    for raw in re.split(r"\s*,\s*", spec):
        item = raw.strip()
        if item in (str(port), "smtp") or (port == 465 and item in ("submissions", "smtps")) or (port == 587 and item == "submission"):
            return True
        range_match = re.match(r"^(\d+)-(\d+)$", item)
        if range_match and int(range_match.group(1)) <= port <= int(range_match.group(2)):
            return True
    return False


def _nft_state(output: str, port: int) -> tuple[str, str]:
    chains: dict[str, dict[str, t.Any]] = {}
    current: str | None = None
    accept_rule = drop_rule = ""
    for raw in output.splitlines():
        line = raw.strip()
        chain_match = _NFT_CHAIN_RE.match(raw)
        if chain_match:
            current = chain_match.group(1)
            chains[current] = {"hook": None, "policy": "accept"}
            continue
        if current is None or not line or line == "}":
            continue
        hook_match = re.search(r"type\s+filter\s+hook\s+(\w+)", line)
        if hook_match:
            chains[current]["hook"] = hook_match.group(1)
            policy = _NFT_POLICY_RE.search(line)
            if policy:
                chains[current]["policy"] = policy.group(1)
            continue
        if _dport_matches(line, port) and "saddr" not in line and 'iifname "lo"' not in line and 'iif "lo"' not in line:
            verdict = _VERDICT_RE.search(line)
            if verdict and verdict.group(1) == "accept" and not accept_rule:
                accept_rule = line
            elif verdict and verdict.group(1) in ("drop", "reject") and not drop_rule:
                drop_rule = line
    inputs = [c for c in chains.values() if c["hook"] == "input"]
    if accept_rule:
        return "open", f"rule: {accept_rule}"
    if drop_rule:
        return "closed", f"rule: {drop_rule}"
    if not inputs:
        return "open", "no input chain: nothing is filtered"
    dropping = [c for c in inputs if c["policy"] == "drop"]
    if dropping:
        return "closed", f"input chain policy drop and no rule accepts {port}/tcp"
    return "open", "input chain policy accept"


def _firewalld_state(output: str, port: int) -> tuple[str, str]:
    if re.search(r"not running", output, re.IGNORECASE):
        return "none", "firewalld is not running"
    services = re.search(r"^\s*services:\s*(.*)$", output, re.MULTILINE)
    ports = re.search(r"^\s*ports:\s*(.*)$", output, re.MULTILINE)
    service_names = services.group(1).split() if services else []
    port_items = ports.group(1).split() if ports else []
    if port == 25 and "smtp" in service_names:
        return "open", "service smtp is enabled"
    for item in port_items:
        number, _sep, proto = item.partition("/")
        low, _dash, high = number.partition("-")
        if proto == "tcp" and low.isdigit() and int(low) <= port <= int(high or low):
            return "open", f"port {item} is open"
    target = re.search(r"^\s*target:\s*(\S+)", output, re.MULTILINE)
    if target and target.group(1).upper() == "ACCEPT":
        return "open", "zone target ACCEPT"
    return "closed", f"neither service smtp nor port {port}/tcp is enabled in the zone"


def _ufw_state(output: str, port: int) -> tuple[str, str]:
    if re.search(r"Status:\s*inactive", output):
        return "none", "ufw is inactive"
    for line in output.splitlines():
        match = re.match(r"^\s*(\S+)(?:\s+\(v6\))?\s+(ALLOW|DENY|REJECT|LIMIT)(?:\s+IN)?\b", line)
        if not match:
            continue
        to, action = match.group(1), match.group(2)
        number = to.split("/")[0]
        proto = to.split("/")[1] if "/" in to else "tcp"
        matches = proto == "tcp" and (number == str(port) or (port == 25 and number.lower() in ("postfix", "smtp")))
        if matches:
            return ("open", f"rule: {line.strip()}") if action in ("ALLOW", "LIMIT") else ("closed", f"rule: {line.strip()}")
    default = re.search(r"Default:\s*(\w+)\s*\(incoming\)", output)
    if default and default.group(1) == "allow":
        return "open", "default policy allows incoming"
    return "closed", f"no ufw rule allows {port}/tcp (default deny incoming)"


def firewall_port_state(firewall: t.Mapping[str, t.Any] | str | None, port: int = 25) -> dict[str, t.Any]:
    """Whether the host firewall lets ``port``/tcp in, from the read-only output of nft, firewall-cmd or ufw.

    Returns ``{"backend", "state", "reason"}`` with ``state`` one of ``open``, ``closed``, ``none`` (no firewall, so
    nothing is filtered) and ``unknown``. The analysis is a heuristic over the text: a rule that accepts the port anywhere
    counts as open, a rule that drops or rejects it as closed, else the policy of the input chains decides.
    """
    if firewall is None or (isinstance(firewall, t.Mapping) and not _present(firewall)):
        return {"backend": None, "state": "unknown", "reason": "the firewall was not read"}
    if isinstance(firewall, str):
        firewall = {"output": firewall}
    output = str(firewall.get("output") or firewall.get("stdout") or "")
    backend = firewall.get("backend")
    lines = output.splitlines()
    if lines and lines[0].startswith("backend:"):
        backend = backend or lines[0].split(":", 1)[1].strip()
        output = "\n".join(lines[1:])
    backend = (backend or "").strip().lower() or None
    rc = firewall.get("rc", 0)
    if backend in (None, "none", ""):
        return {"backend": "none", "state": "none", "reason": "no firewall tool found (nft, firewall-cmd, ufw)"}
    if rc not in (0, None, "0"):
        stderr = str(firewall.get("stderr") or "").strip().splitlines()
        return {"backend": backend, "state": "unknown", "reason": f"reading the {backend} state failed (rc={rc})" + (f": {stderr[0]}" if stderr else "")}
    if backend == "nftables":
        if not output.strip():
            return {"backend": backend, "state": "none", "reason": "the nftables ruleset is empty"}
        state, reason = _nft_state(output, port)
    elif backend == "firewalld":
        state, reason = _firewalld_state(output, port)
    elif backend == "ufw":
        state, reason = _ufw_state(output, port)
    else:
        return {"backend": backend, "state": "unknown", "reason": f"unsupported firewall backend {backend}"}
    return {"backend": backend, "state": state, "reason": reason}


# ----------------------------------------------------------------------------------------------------------- mail log


def _messages(mail_log: t.Mapping[str, t.Any] | None) -> list[t.Mapping[str, t.Any]]:
    if not mail_log:
        return []
    messages = mail_log.get("messages") or []
    return [m for m in messages if isinstance(m, t.Mapping)]


def _is_local_relay(relay: str) -> bool:
    return (relay or "").split("[")[0].lower() in _LOCAL_RELAYS


def _message_is_inbound(message: t.Mapping[str, t.Any], reply_domain: str) -> bool:
    recipients = message.get("recipients") or []
    for rcpt in recipients:
        address = str(rcpt.get("address") or "").lower()
        if reply_domain and address.endswith("@" + reply_domain.lower()):
            return True
        if _is_local_relay(str(rcpt.get("relay") or "")) and str(rcpt.get("status")) != "discarded":
            return True
    return False


def _decisive_recipient(message: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    recipients = [r for r in (message.get("recipients") or []) if isinstance(r, t.Mapping)]
    for rcpt in recipients:
        if rcpt.get("status") != "sent":
            return rcpt
    return recipients[-1] if recipients else {}


def _message_diagnosis(message: t.Mapping[str, t.Any]) -> dict[str, str] | None:
    diagnosis = message.get("diagnosis") or _decisive_recipient(message).get("diagnosis")
    if isinstance(diagnosis, t.Mapping) and diagnosis.get("code"):
        return dict(diagnosis)
    found = diagnose_text(str(message.get("reply") or ""))
    return found.as_dict() if found else None


def _describe_message(message: t.Mapping[str, t.Any]) -> str:
    rcpt = _decisive_recipient(message)
    reply = str(message.get("reply") or rcpt.get("reply") or "")
    text = f"{message.get('last_seen') or message.get('first_seen') or ''} {message.get('queue_id', '?')}"
    text += f" to {rcpt.get('address', '?')}: status={message.get('status', '?')}"
    if reply:
        text += f" ({reply})"
    return text.strip()


# ----------------------------------------------------------------------------------------------------------- outbound


def _check_submission(hop: Hop, port_check: t.Mapping[str, t.Any] | None, postconf: t.Mapping[str, str]) -> None:
    listening = [item for item in (port_check or {}).get("listening") or [] if isinstance(item, t.Mapping) and item.get("port") == 25]
    if postconf:
        hop.evidence.append(f"postconf -n read ({len(postconf)} parameters)")
    if not listening:
        hop.evidence.append("the listener on port 25 was not checked")
        return
    item = listening[0]
    if item.get("listening"):
        hop.evidence.append(f"Postfix listens on port 25 ({', '.join(item.get('addresses') or [])})")
        hop.succeed("Postfix accepts mail on port 25")
    else:
        hop.evidence.append("nothing listens on port 25")
        hop.fail("Postfix does not listen on port 25; the application cannot hand mail over", "connection_refused")


def _check_relay(hop: Hop, relay: dict[str, t.Any], port_check: t.Mapping | None, probe: t.Mapping | None, outbound: list[t.Mapping]) -> None:
    host, port = relay["host"], relay["port"]
    peer = _hostport(host, port)
    who = "relay" if host else "the recipient's server"
    target = None
    for item in (port_check or {}).get("targets") or []:
        if isinstance(item, t.Mapping) and (not host or item.get("host") == host) and (not port or item.get("port") == port):
            target = item
            break
    if target is not None:
        state = target.get("state")
        hop.evidence.append(
            f"TCP {_hostport(str(target.get('host')), target.get('port'))}: {state}" + (f" ({target.get('error')})" if target.get("error") else "")
        )
        if state != "open":
            code = (target.get("diagnosis") or {}).get("code") or _PORT_STATE_CODES.get(str(state), "unknown")
            what, advice = _phrase(code, who=who, peer=peer, host=host, port=port)
            hop.fail(f"{what} - {advice}", target.get("diagnosis") or code)
            return
    if probe is not None:
        stages = [s for s in probe.get("stages") or [] if isinstance(s, t.Mapping)]
        passed = [s.get("name") for s in stages if s.get("ok")]
        hop.evidence.append(
            f"SMTP probe {_hostport(str(probe.get('host')), probe.get('port'))} ({probe.get('security')}): stages {', '.join(map(str, passed)) or 'none'} ok"
        )
        tls = probe.get("tls") or {}
        if tls.get("version"):
            hop.evidence.append(
                f"TLS {tls.get('version')} {tls.get('cipher') or ''}, certificate {'verified' if tls.get('verified') else 'not verified'}".rstrip()
            )
        if probe.get("auth_mechanism"):
            hop.evidence.append(f"AUTH {probe.get('auth_mechanism')}")
        for entry in (probe.get("transcript") or [])[-4:]:
            if isinstance(entry, t.Mapping):
                hop.evidence.append(f"{entry.get('dir')} {entry.get('text')}")
        failed_stage = probe.get("stage_failed")
        if failed_stage:
            stage = next((s for s in reversed(stages) if s.get("name") == failed_stage and not s.get("ok")), {})
            diagnosis = probe.get("diagnosis") or {}
            code = diagnosis.get("code") or "unknown"
            what, advice = _phrase(code, who=who, peer=peer, host=host, port=port)
            reply = _reply_code(stage.get("code"), str(stage.get("text") or ""), stage.get("enhanced_code"))
            hop.fail(f"{what}" + (f" ({reply})" if reply else "") + f" - {advice}", diagnosis or code)
            return
    # Postfix's own experience: the newest outbound message that failed on the way to the relay.
    latest = outbound[-1] if outbound else None
    if latest is not None and latest.get("status") != "sent":
        diagnosis = _message_diagnosis(latest)
        code = (diagnosis or {}).get("code")
        if code in _RELAY_CODES:
            hop.evidence.append(f"Postfix log: {_describe_message(latest)}")
            what, advice = _phrase(code, who=who, peer=peer, host=host, port=port)
            rcpt = _decisive_recipient(latest)
            reply = _log_reply_code(str(latest.get("reply") or rcpt.get("reply") or ""), rcpt.get("dsn"))
            suffix = " (Postfix log)" if probe is not None and not probe.get("stage_failed") else ""
            hop.fail(f"{what}" + (f" ({reply})" if reply else "") + suffix + f" - {advice}", diagnosis)
            return
    if probe is not None:
        reached = [s.get("name") for s in probe.get("stages") or [] if isinstance(s, t.Mapping) and s.get("ok")]
        if "auth" in reached:
            hop.succeed(f"{who} {peer} accepts the credentials")
        else:
            hop.succeed(f"{who} {peer} answers" + (f" (up to {reached[-1]})" if reached else ""))
        return
    if target is not None:
        hop.succeed(f"{peer} is reachable")
        return
    if latest is not None and latest.get("status") == "sent":
        hop.succeed("Postfix delivered the last message")
        return
    hop.evidence.append("no probe and no delivery in the log")


def _check_delivery(hop: Hop, relay_hop: Hop, outbound: list[t.Mapping], probe: t.Mapping | None, hours: t.Any) -> None:
    if probe is not None and probe.get("sent"):
        hop.evidence.append(f"test message accepted by the relay, queue id {probe.get('queue_id')}")
    for message in outbound[-5:]:
        hop.evidence.append(_describe_message(message))
    if relay_hop.status == "failed":
        hop.summary = "not reached: the hop before failed"
        return
    if not outbound:
        window = f" in the last {hours} hours" if hours else ""
        hop.evidence.append(f"no outbound message in the Postfix log{window}")
        if probe is not None and probe.get("sent"):
            hop.succeed("the relay accepted the test message")
        return
    latest = outbound[-1]
    status = latest.get("status")
    if status == "sent":
        hop.succeed(f"last message {latest.get('queue_id')} was sent")
        return
    if status == "queued":
        hop.summary = f"message {latest.get('queue_id')} is still in the queue"
        return
    diagnosis = _message_diagnosis(latest)
    code = (diagnosis or {}).get("code") or "unknown"
    rcpt = _decisive_recipient(latest)
    what, advice = _phrase(code, who="the recipient's server", peer=str(rcpt.get("relay") or "?"), host=str(rcpt.get("relay") or "?"))
    reply = _log_reply_code(str(latest.get("reply") or rcpt.get("reply") or ""), rcpt.get("dsn"))
    hop.fail(
        f"message {latest.get('queue_id')} to {rcpt.get('address', '?')} {status}: {what}" + (f" ({reply})" if reply else "") + f" - {advice}",
        diagnosis or code,
    )


# ----------------------------------------------------------------------------------------------------------- inbound

_RECORD_WORDS = {"MX": "MX", "A": "A record", "AAAA": "AAAA record", "A/AAAA": "address", "TXT": "TXT record", "CNAME": "CNAME"}


def _check_dns(hop: Hop, dns: t.Mapping[str, t.Any] | None, failure: t.Mapping[str, t.Any] | None) -> None:
    if dns is None:
        hop.evidence.append("DNS was not verified (give the DNS variables to check it)")
        return
    records = [r for r in dns.get("records") or [] if isinstance(r, t.Mapping)]
    if not records:
        msg = str(dns.get("msg") or "no records returned")
        hop.evidence.append(f"dns_mail_records: {msg}")
        if dns.get("failed"):
            hop.fail(f"DNS could not be verified: {msg}", "dns_failure")
        return
    problems = []
    for record in records:
        word = _RECORD_WORDS.get(str(record.get("type")), str(record.get("type")))
        for ns in record.get("nameservers") or []:
            status = ns.get("status")
            label = f"{word} for {record.get('name')} on {_short_ns(str(ns.get('nameserver')))}: {status}"
            if ns.get("actual"):
                label += f" ({', '.join(map(str, ns.get('actual')))})"
            hop.evidence.append(label)
            if status != "ok":
                if status == "unreachable":
                    problems.append(f"nameserver {_short_ns(str(ns.get('nameserver')))} does not answer for {record.get('name')}")
                else:
                    problems.append(f"{word} for {record.get('name')} {status} on {_short_ns(str(ns.get('nameserver')))}")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        hop.fail(problems[0] + more + " - create or fix it with mailops.notify.dns_mail_records (state=present)", None)
        return
    hop.succeed(f"all {len(records)} records are as expected on {len(dns.get('nameservers') or [])} nameserver(s)")


def _check_port25(
    hop: Hop,
    firewall: dict[str, t.Any],
    port_check: t.Mapping | None,
    postconf: t.Mapping[str, str],
    outside: t.Mapping | None,
) -> None:
    hop.evidence.append(f"firewall ({firewall['backend'] or 'not read'}): 25/tcp {firewall['state']} - {firewall['reason']}")
    listening = [item for item in (port_check or {}).get("listening") or [] if isinstance(item, t.Mapping) and item.get("port") == 25]
    addresses = list(listening[0].get("addresses") or []) if listening else []
    if listening:
        hop.evidence.append(f"listeners on port 25: {', '.join(addresses) or 'none'}")
    if postconf.get("inet_interfaces"):
        hop.evidence.append(f"inet_interfaces = {postconf['inet_interfaces']}")
    outside_target = None
    if outside:
        outside_target = next((item for item in outside.get("targets") or [] if isinstance(item, t.Mapping) and item.get("port") == 25), None)
        if outside_target is not None:
            hop.evidence.append(f"from outside, TCP {_hostport(str(outside_target.get('host')), 25)}: {outside_target.get('state')}")
    if listening and not listening[0].get("listening"):
        hop.fail("Postfix does not listen on port 25 - start Postfix and check master.cf", "connection_refused")
        return
    if addresses and all(_is_loopback(a) for a in addresses):
        hop.fail(
            f"Postfix listens on port 25 only on loopback ({', '.join(addresses)}) - set inet_interfaces = all (inbound mail on)",
            "connection_refused",
        )
        return
    if firewall["state"] == "closed":
        drop = "drop" in firewall["reason"]
        hop.fail(f"port 25 is closed by the firewall ({firewall['backend']}) - open 25/tcp for inbound mail", "timeout" if drop else "connection_refused")
        return
    if outside_target is not None and outside_target.get("state") != "open":
        code = (outside_target.get("diagnosis") or {}).get("code") or _PORT_STATE_CODES.get(str(outside_target.get("state")), "unknown")
        hop.fail(
            f"port 25 is {outside_target.get('state')} from outside - check security groups and the provider's firewall",
            outside_target.get("diagnosis") or code,
        )
        return
    if listening and firewall["state"] in ("open", "none"):
        hop.succeed("port 25 is open and Postfix listens on it")
    elif outside_target is not None:
        hop.succeed("port 25 answers from outside")


def _check_maildir(hop: Hop, inbound: list[t.Mapping], rejects: list[t.Mapping], reply_domain: str, prior_failed: bool) -> None:
    domain_rejects = [r for r in rejects if reply_domain and str(r.get("to") or "").lower().endswith("@" + reply_domain.lower())]
    for reject in domain_rejects[-3:]:
        reply = " ".join(str(reject.get(k)) for k in ("code", "dsn", "reply") if reject.get(k))
        hop.evidence.append(f"{reject.get('timestamp', '')} reject from {reject.get('client')} to {reject.get('to')}: {reply}".strip())
    for message in inbound[-5:]:
        hop.evidence.append(_describe_message(message))
    if prior_failed:
        hop.summary = "not reached: a hop before failed"
        return
    latest_reject = domain_rejects[-1] if domain_rejects else None
    latest = inbound[-1] if inbound else None
    if latest_reject is not None and (latest is None or str(latest_reject.get("timestamp") or "") > str(latest.get("last_seen") or "")):
        diagnosis = latest_reject.get("diagnosis") or None
        code = " ".join(str(p) for p in (latest_reject.get("code"), latest_reject.get("dsn")) if p)
        hop.fail(f"Postfix rejects mail for {reply_domain}" + (f" ({code})" if code else "") + f": {latest_reject.get('reply', '')}".rstrip(": "), diagnosis)
        return
    if latest is None:
        hop.evidence.append(f"no mail for {reply_domain} in the Postfix log")
        return
    if latest.get("status") == "sent":
        rcpt = _decisive_recipient(latest)
        hop.succeed(f"last reply {latest.get('queue_id')} was delivered ({rcpt.get('relay', '?')})")
        return
    diagnosis = _message_diagnosis(latest)
    code = (diagnosis or {}).get("code") or "unknown"
    what, advice = _phrase(code, who="the local delivery", peer="the Maildir")
    hop.fail(f"reply {latest.get('queue_id')} was {latest.get('status')}: {what} - {advice}", diagnosis or code)


def _inbound_expected(evidence: t.Mapping[str, t.Any], postconf: t.Mapping[str, str], reply_domain: str) -> bool:
    flag = evidence.get("inbound")
    if isinstance(flag, bool):
        return flag
    if _mapping(evidence, "dns") is not None:
        return True
    for name in ("virtual_mailbox_domains", "relay_domains", "mydestination", "virtual_alias_domains", "transport_maps"):
        if reply_domain and reply_domain.lower() in postconf.get(name, "").lower():
            return True
    return False


def _direction_line(direction: str, hops: list[Hop], ok_text: str) -> str:
    failed = [hop for hop in hops if hop.status == "failed"]
    if failed:
        more = len(failed) - 1
        return f"{direction}: {failed[0].summary}" + (
            f" [+{more} more failed hop{'s' if more > 1 else ''}: {', '.join(h.label for h in failed[1:])}]" if more else ""
        )
    if all(hop.status == "ok" for hop in hops):
        return f"{direction}: ok - {ok_text}"
    unknown = [hop.label for hop in hops if hop.status == "unknown"]
    known = [hop.summary for hop in hops if hop.status == "ok" and hop.summary]
    text = f"{direction}: no fault found"
    if known:
        text += f" ({'; '.join(known)})"
    return text + f"; not verified: {', '.join(unknown)}"


# ----------------------------------------------------------------------------------------------------------- analyze


def analyze(evidence: t.Mapping[str, t.Any], hostname: str | None = None) -> Verdict:
    """Compute the hops and the verdict lines from the evidence (see the module docstring for its keys)."""
    if not isinstance(evidence, t.Mapping):
        raise EvidenceError("the evidence must be a dictionary")
    hostname = (hostname or str(evidence.get("hostname") or "")).rstrip(".")
    postconf_raw = evidence.get("postconf")
    if isinstance(postconf_raw, t.Mapping):
        postconf_raw = postconf_raw.get("stdout_lines") or postconf_raw.get("stdout") or ""
    postconf = parse_postconf(postconf_raw)
    if not hostname:
        hostname = postconf.get("myhostname", "")
    reply_domain = str(evidence.get("reply_domain") or (f"reply.{hostname}" if hostname else ""))
    port_check = _mapping(evidence, "port_check")
    probe = _mapping(evidence, "smtp_probe")
    dns = _mapping(evidence, "dns")
    mail_log = _mapping(evidence, "mail_log")
    outside = _mapping(evidence, "outside_port_check")
    firewall = firewall_port_state(evidence.get("firewall"), 25)
    relay = _relay_target(evidence, postconf)
    messages = _messages(mail_log)
    inbound_messages = [m for m in messages if _message_is_inbound(m, reply_domain)]
    outbound_messages = [m for m in messages if m not in inbound_messages and m.get("status") != "discarded"]
    rejects = [r for r in (mail_log or {}).get("rejects") or [] if isinstance(r, t.Mapping)]
    hours = evidence.get("log_hours")

    relay_name = f"relay {_hostport(relay['host'], relay['port'])}" if relay["host"] else "recipient MX (no relay)"
    submission = Hop("outbound", "submission", "app", "Postfix")
    relay_hop = Hop("outbound", "relay", "Postfix", relay_name)
    delivery = Hop("outbound", "delivery", relay_name, "recipient")
    _check_submission(submission, port_check, postconf)
    _check_relay(relay_hop, relay, port_check, probe, outbound_messages)
    _check_delivery(delivery, relay_hop, outbound_messages, probe, hours)
    hops = [submission, relay_hop, delivery]
    out_ok = relay_hop.summary or "mail leaves the host"
    verdicts = [_direction_line("outbound", hops, out_ok + (f"; {delivery.summary}" if delivery.status == "ok" else ""))]

    inbound_checked = _inbound_expected(evidence, postconf, reply_domain)
    if inbound_checked:
        mx = Hop("inbound", "mx", "outside", f"MX {reply_domain}")
        port25 = Hop("inbound", "port25", f"MX {reply_domain}", f"{hostname or 'host'}:25")
        maildir = Hop("inbound", "maildir", f"{hostname or 'host'}:25", "reply Maildir")
        _check_dns(mx, dns, None)
        _check_port25(port25, firewall, port_check, postconf, outside)
        _check_maildir(maildir, inbound_messages, rejects, reply_domain, prior_failed=port25.status == "failed" or mx.status == "failed")
        inbound_hops = [mx, port25, maildir]
        hops.extend(inbound_hops)
        verdicts.append(_direction_line("inbound", inbound_hops, f"mail for {reply_domain} reaches the Maildir"))
    else:
        verdicts.append("inbound: not checked (inbound mail is not configured)")
    return Verdict(hops=hops, verdicts=verdicts, inbound_checked=inbound_checked)
