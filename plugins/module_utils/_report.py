# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The human-readable report of the support bundle: one self-contained HTML page.

The page needs no JavaScript and loads nothing: the CSS is inline, the mail path is drawn with HTML boxes (green for
``ok``, red for ``failed``, grey for ``unknown``), and every value from the evidence is HTML-escaped. It shows the
verdict, the mail path with the evidence of each hop, the DNS table per record and nameserver, the recent message
statuses and rejects, the SMTP probe transcript, the firewall and the redacted ``postconf -n``.

Give it evidence that is already redacted: the renderer escapes, it does not redact.
"""

from __future__ import annotations

import html
import typing as t

__all__ = [
    "ReportError",
    "render_report",
]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#1b1f23;background:#fff}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #d0d7de}
.meta{color:#57606a;font-size:.9em}
.verdicts{list-style:none;padding:0}.verdicts li{padding:.5em .8em;margin:.3em 0;border-radius:4px;font-weight:600}
.verdicts li.ok{background:#dafbe1;border-left:6px solid #1a7f37}.verdicts li.failed{background:#ffebe9;border-left:6px solid #cf222e}
.verdicts li.unknown{background:#f6f8fa;border-left:6px solid #8c959f}
.path{display:flex;align-items:stretch;flex-wrap:wrap;gap:0;margin:.8em 0}
.node{border:2px solid #57606a;border-radius:8px;padding:.6em .9em;background:#f6f8fa;font-weight:600;align-self:center;min-width:6em;text-align:center}
.hop{flex:1 1 12em;display:flex;flex-direction:column;justify-content:center;margin:0 .3em;min-width:10em}
.hop .arrow{height:8px;border-radius:4px;position:relative;margin:.3em 0}
.hop .arrow::after{content:"";position:absolute;right:-2px;top:-6px;border-left:14px solid;
border-top:10px solid transparent;border-bottom:10px solid transparent;border-left-color:inherit}
.hop .tag{font-size:.8em;font-weight:700;text-transform:uppercase}.hop .sum{font-size:.85em}
.hop.ok .arrow{background:#1a7f37;border-color:#1a7f37}.hop.ok .tag{color:#1a7f37}
.hop.failed .arrow{background:#cf222e;border-color:#cf222e}.hop.failed .tag{color:#cf222e}
.hop.unknown .arrow{background:#8c959f;border-color:#8c959f}.hop.unknown .tag{color:#57606a}
.detail{border:1px solid #d0d7de;border-left-width:6px;border-radius:4px;padding:.4em .8em;margin:.5em 0}
.detail.ok{border-left-color:#1a7f37}.detail.failed{border-left-color:#cf222e}.detail.unknown{border-left-color:#8c959f}
.detail h3{font-size:1em;margin:.3em 0}.detail ul{margin:.3em 0;padding-left:1.3em;font-family:ui-monospace,monospace;font-size:.85em}
.diag{background:#fff8c5;padding:.3em .6em;border-radius:4px;font-size:.9em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.ok,td.sent{background:#dafbe1}td.missing,td.wrong,td.unreachable,td.bounced,td.expired{background:#ffebe9}
td.deferred,td.queued{background:#fff8c5}td.discarded{background:#f6f8fa}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:.8em;border-radius:4px}
""".strip()

_STATUSES = ("ok", "failed", "unknown")
_CELL_CLASSES = ("ok", "missing", "wrong", "unreachable", "sent", "deferred", "bounced", "expired", "discarded", "queued")


class ReportError(Exception):
    """Base class of the errors of this module util."""


def _e(value: t.Any) -> str:
    """HTML-escape any value (None becomes an empty string)."""
    if value is None:
        return ""
    return html.escape(str(value), quote=True)


def _status(value: t.Any) -> str:
    return value if value in _STATUSES else "unknown"


def _cell_class(value: t.Any) -> str:
    return f' class="{value}"' if value in _CELL_CLASSES else ""


def _present(value: t.Any) -> bool:
    return isinstance(value, t.Mapping) and bool(value) and not value.get("skipped")


def _verdict_class(line: str, hops: t.Sequence[t.Mapping[str, t.Any]]) -> str:
    direction = line.split(":", 1)[0]
    statuses = [hop.get("status") for hop in hops if hop.get("direction") == direction]
    if not statuses:
        return "unknown"
    if "failed" in statuses:
        return "failed"
    return "ok" if all(s == "ok" for s in statuses) else "unknown"


def _path(direction: str, hops: t.Sequence[t.Mapping[str, t.Any]]) -> list[str]:
    chosen = [hop for hop in hops if hop.get("direction") == direction]
    if not chosen:
        return []
    out = [f'<div class="path" id="path-{_e(direction)}">', f'<div class="node">{_e(chosen[0].get("source"))}</div>']
    for hop in chosen:
        status = _status(hop.get("status"))
        out.append(
            f'<div class="hop {status}" id="hop-{_e(direction)}-{_e(hop.get("key"))}" title="{_e(hop.get("label"))}">'
            f'<span class="tag">{_e(status)}</span><div class="arrow"></div><span class="sum">{_e(hop.get("summary"))}</span></div>'
        )
        out.append(f'<div class="node">{_e(hop.get("target"))}</div>')
    out.append("</div>")
    return out


def _hop_details(hops: t.Sequence[t.Mapping[str, t.Any]]) -> list[str]:
    out = []
    for hop in hops:
        status = _status(hop.get("status"))
        out.append(f'<div class="detail {status}">')
        out.append(f"<h3>{_e(hop.get('direction'))}: {_e(hop.get('label'))} &mdash; {_e(status)}</h3>")
        if hop.get("summary"):
            out.append(f"<p>{_e(hop.get('summary'))}</p>")
        evidence = hop.get("evidence") or []
        if evidence:
            out.append("<ul>" + "".join(f"<li>{_e(item)}</li>" for item in evidence) + "</ul>")
        diagnosis = hop.get("diagnosis")
        if isinstance(diagnosis, t.Mapping) and diagnosis:
            out.append(
                f'<p class="diag"><strong>{_e(diagnosis.get("code"))}</strong>: {_e(diagnosis.get("summary"))}<br>'
                f"<em>Hint:</em> {_e(diagnosis.get('hint'))}</p>"
            )
        out.append("</div>")
    return out


def _dns_table(dns: t.Mapping[str, t.Any] | None) -> list[str]:
    if not _present(dns):
        return ["<p>DNS was not verified.</p>"]
    records = [r for r in dns.get("records") or [] if isinstance(r, t.Mapping)]
    if not records:
        return [f"<p>No DNS records: {_e(dns.get('msg'))}</p>"]
    servers: list[str] = []
    for record in records:
        for ns in record.get("nameservers") or []:
            if ns.get("nameserver") not in servers:
                servers.append(ns.get("nameserver"))
    out = ['<table class="dns">', "<tr><th>record</th><th>type</th><th>expected</th>" + "".join(f"<th>{_e(s)}</th>" for s in servers) + "</tr>"]
    for record in records:
        by_ns = {ns.get("nameserver"): ns for ns in record.get("nameservers") or []}
        cells = []
        for server in servers:
            ns = by_ns.get(server)
            if ns is None:
                cells.append("<td>-</td>")
                continue
            actual = ", ".join(str(v) for v in ns.get("actual") or [])
            cells.append(f"<td{_cell_class(ns.get('status'))}>{_e(ns.get('status'))}" + (f"<br><small>{_e(actual)}</small>" if actual else "") + "</td>")
        expected = ", ".join(str(v) for v in record.get("expected") or [])
        out.append(f"<tr><td>{_e(record.get('name'))}</td><td>{_e(record.get('type'))}</td><td>{_e(expected)}</td>{''.join(cells)}</tr>")
    out.append("</table>")
    return out


def _messages_table(mail_log: t.Mapping[str, t.Any] | None, limit: int) -> list[str]:
    if not _present(mail_log):
        return ["<p>The Postfix log was not read.</p>"]
    messages = [m for m in mail_log.get("messages") or [] if isinstance(m, t.Mapping)][-limit:]
    out = []
    summary = mail_log.get("summary") if isinstance(mail_log.get("summary"), t.Mapping) else {}
    if summary.get("by_status"):
        counts = ", ".join(f"{_e(k)}: {_e(v)}" for k, v in summary["by_status"].items())
        out.append(f"<p>Messages by status: {counts}; sources: {_e(', '.join(map(str, summary.get('sources') or [])))}</p>")
    if not messages:
        out.append("<p>No message in the log for the period.</p>")
    else:
        out.append(
            '<table class="messages"><tr><th>last seen</th><th>queue id</th><th>from</th><th>to</th><th>relay</th><th>status</th><th>reply, diagnosis</th></tr>'
        )
        for message in reversed(messages):
            recipients = [r for r in message.get("recipients") or [] if isinstance(r, t.Mapping)]
            to = ", ".join(str(r.get("address")) for r in recipients)
            relay = ", ".join(sorted({str(r.get("relay")) for r in recipients if r.get("relay")}))
            diagnosis = message.get("diagnosis") if isinstance(message.get("diagnosis"), t.Mapping) else None
            reply = _e(message.get("reply"))
            if diagnosis:
                reply += f"<br><small>{_e(diagnosis.get('code'))}: {_e(diagnosis.get('summary'))}</small>"
            status = message.get("status")
            out.append(
                f"<tr><td>{_e(message.get('last_seen'))}</td><td>{_e(message.get('queue_id'))}</td><td>{_e(message.get('from'))}</td>"
                f"<td>{_e(to)}</td><td>{_e(relay)}</td><td{_cell_class(status)}>{_e(status)}</td><td>{reply}</td></tr>"
            )
        out.append("</table>")
    rejects = [r for r in mail_log.get("rejects") or [] if isinstance(r, t.Mapping)][-limit:]
    if rejects:
        out.append("<h3>Rejected by Postfix</h3>")
        out.append('<table class="rejects"><tr><th>time</th><th>client</th><th>from</th><th>to</th><th>reply</th></tr>')
        for reject in reversed(rejects):
            reply = " ".join(str(reject.get(k)) for k in ("code", "dsn", "reply") if reject.get(k))
            out.append(
                f"<tr><td>{_e(reject.get('timestamp'))}</td><td>{_e(reject.get('client'))}</td><td>{_e(reject.get('from'))}</td>"
                f"<td>{_e(reject.get('to'))}</td><td>{_e(reply)}</td></tr>"
            )
        out.append("</table>")
    queue = [q for q in mail_log.get("queue") or [] if isinstance(q, t.Mapping)]
    if queue:
        out.append("<h3>Mail queue</h3>")
        out.append('<table class="queue"><tr><th>queue id</th><th>queue</th><th>arrival</th><th>recipients and delay reason</th></tr>')
        for entry in queue[:limit]:
            recipients = "<br>".join(f"{_e(r.get('address'))}: {_e(r.get('delay_reason'))}" for r in entry.get("recipients") or [] if isinstance(r, t.Mapping))
            out.append(
                f"<tr><td>{_e(entry.get('queue_id'))}</td><td>{_e(entry.get('queue_name'))}</td>"
                f"<td>{_e(entry.get('arrival_time'))}</td><td>{recipients}</td></tr>"
            )
        out.append("</table>")
    return out


def _transcript(probe: t.Mapping[str, t.Any] | None) -> list[str]:
    if not _present(probe):
        return ["<p>The relay was not probed.</p>"]
    lines = [f"{entry.get('dir')} {entry.get('text')}" for entry in probe.get("transcript") or [] if isinstance(entry, t.Mapping)]
    head = f"<p>{_e(probe.get('host'))}:{_e(probe.get('port'))} ({_e(probe.get('security'))}) &mdash; {_e(probe.get('msg'))}</p>"
    return [head, "<pre>" + _e("\n".join(lines)) + "</pre>"]


def render_report(
    verdict: t.Mapping[str, t.Any],
    evidence: t.Mapping[str, t.Any],
    *,
    hostname: str = "",
    generated_at: str = "",
    firewall: t.Mapping[str, t.Any] | None = None,
    postconf: str = "",
    limit: int = 50,
) -> str:
    """Render the report page. ``verdict`` is ``Verdict.as_dict()``; ``evidence`` must already be redacted."""
    if not isinstance(verdict, t.Mapping) or not isinstance(evidence, t.Mapping):
        raise ReportError("verdict and evidence must be dictionaries")
    hops = [hop for hop in verdict.get("hops") or [] if isinstance(hop, t.Mapping)]
    title = f"Mail troubleshooting report for {hostname}" if hostname else "Mail troubleshooting report"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Generated {_e(generated_at)} by mailops.notify.support_bundle. Secrets are redacted.</p>',
        "<h2>Verdict</h2>",
        '<ul class="verdicts">',
    ]
    for line in verdict.get("verdicts") or []:
        out.append(f'<li class="{_verdict_class(str(line), hops)}">{_e(line)}</li>')
    out.append("</ul>")
    out.append("<h2>Mail path</h2>")
    for direction, caption in (("outbound", "Outbound: application to recipient"), ("inbound", "Inbound: replies from outside to the reply Maildir")):
        part = _path(direction, hops)
        if part:
            out.append(f"<h3>{_e(caption)}</h3>")
            out.extend(part)
    out.append("<h2>Evidence per hop</h2>")
    out.extend(_hop_details(hops))
    out.append("<h2>DNS</h2>")
    out.extend(_dns_table(evidence.get("dns") if isinstance(evidence.get("dns"), t.Mapping) else None))
    out.append("<h2>Recent messages</h2>")
    out.extend(_messages_table(evidence.get("mail_log") if isinstance(evidence.get("mail_log"), t.Mapping) else None, limit))
    out.append("<h2>SMTP probe of the relay</h2>")
    out.extend(_transcript(evidence.get("smtp_probe") if isinstance(evidence.get("smtp_probe"), t.Mapping) else None))
    out.append("<h2>Firewall (25/tcp)</h2>")
    if firewall:
        out.append(f"<p>{_e(firewall.get('backend') or 'not read')}: {_e(firewall.get('state'))} &mdash; {_e(firewall.get('reason'))}</p>")
    raw = evidence.get("firewall")
    if isinstance(raw, t.Mapping) and (raw.get("output") or raw.get("stdout")):
        out.append("<pre>" + _e(raw.get("output") or raw.get("stdout")) + "</pre>")
    out.append("<h2>postconf -n (redacted)</h2>")
    out.append("<pre>" + _e(postconf) + "</pre>" if postconf else "<p>postconf was not read.</p>")
    out.extend(["</body>", "</html>"])
    return "\n".join(out) + "\n"
