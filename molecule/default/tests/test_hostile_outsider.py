"""A hostile outsider on the lab network tries every known way to send mail through the appliance or into it.

`outside` (an unauthenticated client that is not in mynetworks) runs each trick in its own SMTP session and reports
every reply. The appliance may accept mail from strangers only for the reply domain (into the Maildir), exactly the
no-reply domain (discarded) and a bare <postmaster> (RFC 5321: always accepted; it must stay on the host, in root's
local mailbox). Then the suite follows every accepted message through the appliance's log and checks the queue, the
local mailboxes and the provider's Maildirs. The table of tricks, replies and destinations is printed to the log.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import time
import uuid
from dataclasses import dataclass, field

import pytest

testinfra_hosts = ["podman://appliance"]

FQDN = "appliance.mailops.test"
REPLY = f"reply.{FQDN}"
NOREPLY = f"noreply.{FQDN}"
FOREIGN = "foreign.test"
REPLY_MAILDIR = "/var/mail/mailops/reply"
RELAY_MAILDIRS = "/var/mail/relay"
SPAMMER = f"spammer@{FOREIGN}"
WAIT = 30
SUITE = uuid.uuid4().hex[:12]

# Outcomes: "refused" (RCPT answered 5xx), "maildir" (delivered by virtual(8) into the reply Maildir),
# "discard" (accepted for the no-reply domain and dropped by discard(8)), "postmaster" (the bare <postmaster>
# of RFC 5321, delivered by local(8) into root's mailbox on the appliance), or a reply code for command tricks.
REFUSED, MAILDIR, DISCARD, POSTMASTER = "refused", "maildir", "discard", "postmaster"


@dataclass(frozen=True)
class Trick:
    name: str
    rcpt: str | None = None  # the RCPT TO argument, inside <> unless bare
    expect: str = REFUSED
    mail: str = SPAMMER  # the MAIL FROM address
    helo: str = f"mx.{FOREIGN}"
    bare: bool = False  # RCPT TO:addr without angle brackets
    utf8: bool = False  # MAIL FROM ... SMTPUTF8
    raw8: bool = False  # a UTF-8 address without SMTPUTF8 (every command is sent as UTF-8)
    starttls: bool = False
    commands: tuple[str, ...] = field(default=())  # sent after EHLO (and STARTTLS), before MAIL


def tricks(ip, relay_ip):
    """Every trick the suite plays, with the outcome the appliance must produce."""
    return [
        # What must work (so that the refusals below are not just a broken listener).
        Trick("reply domain", f"reply+{{token}}@{REPLY}", MAILDIR),
        Trick("reply domain over STARTTLS", f"reply+{{token}}@{REPLY}", MAILDIR, starttls=True),
        Trick("no-reply domain", f"noreply@{NOREPLY}", DISCARD),
        Trick("no-reply domain, any local part", f"anyone@{NOREPLY}", DISCARD),
        Trick("null sender to the reply domain (a bounce)", f"reply+{{token}}@{REPLY}", MAILDIR, mail=""),
        # Case: domains are case-insensitive; the answer must not depend on it.
        Trick("REPLY.<HOST> upper case", f"REPLY+{{token}}@{REPLY.upper()}", MAILDIR),
        Trick("NOREPLY.<HOST> upper case", f"NOREPLY@{NOREPLY.upper()}", DISCARD),
        Trick("VICTIM@FOREIGN.TEST upper case", f"VICTIM@{FOREIGN.upper()}"),
        Trick("VICTIM@EVIL.NOREPLY.<HOST> upper case", f"VICTIM@EVIL.{NOREPLY.upper()}"),
        # Plain relaying and look-alike domains.
        Trick("foreign domain", f"victim@{FOREIGN}"),
        Trick("foreign domain, no angle brackets", f"victim@{FOREIGN}", bare=True),
        Trick("the host name itself", f"victim@{FQDN}"),
        Trick("the host's short name", "victim@appliance"),
        Trick("reply domain as a prefix of a foreign domain", f"victim@{REPLY}.{FOREIGN}"),
        Trick("no-reply domain as a prefix of a foreign domain", f"victim@{NOREPLY}.{FOREIGN}"),
        Trick("EHLO localhost", f"victim@{FOREIGN}", helo="localhost"),
        Trick("EHLO as the appliance", f"victim@{FOREIGN}", helo=FQDN),
        Trick("STARTTLS, then a foreign domain", f"victim@{FOREIGN}", starttls=True),
        # a. Sub-domains of every domain the appliance serves.
        Trick("sub-domain of the no-reply domain", f"victim@evil.{NOREPLY}"),
        Trick("two levels under the no-reply domain", f"victim@third.example.{NOREPLY}"),
        Trick("sub-domain of the reply domain", f"victim@x.{REPLY}"),
        Trick("sub-domain of the host name", f"victim@x.{FQDN}"),
        # b. postmaster.
        Trick("bare postmaster", "postmaster", POSTMASTER),
        Trick("bare PostMaster (mixed case)", "PostMaster", POSTMASTER),
        Trick("postmaster@<host>", f"postmaster@{FQDN}"),
        Trick("postmaster@localhost", "postmaster@localhost"),
        Trick("postmaster@[own IP]", f"postmaster@[{ip}]"),
        # c. Local users, localhost and IP literals (and no enumeration: root and nosuchuser get the same answer).
        *(Trick(f"{user}@[own IP]", f"{user}@[{ip}]") for user in ("root", "postfix", "nobody", "www-data", "nosuchuser")),
        *(Trick(f"{user}@localhost", f"{user}@localhost") for user in ("root", "nosuchuser")),
        *(Trick(f"bare {user}", user) for user in ("root", "nosuchuser")),
        Trick("root@localhost. (trailing dot)", "root@localhost."),
        Trick("root@[127.0.0.1]", "root@[127.0.0.1]"),
        Trick("root@[IPv6:::1]", "root@[IPv6:::1]"),
        Trick("root@[IPv6:::ffff:own IP]", f"root@[IPv6:::ffff:{ip}]"),
        Trick("victim@[relay's IP] (foreign literal)", f"victim@[{relay_ip}]"),
        Trick("victim@[192.0.2.1] (foreign literal)", "victim@[192.0.2.1]"),
        Trick("victim@[IPv6:2001:db8::25] (foreign literal)", "victim@[IPv6:2001:db8::25]"),
        # Percent hack.
        Trick("percent hack via the host", f"victim%{FOREIGN}@{FQDN}"),
        Trick("percent hack via the reply domain", f"victim%{FOREIGN}@{REPLY}"),
        Trick("percent hack via the no-reply domain", f"victim%{FOREIGN}@{NOREPLY}"),
        Trick("percent hack via the own IP", f"victim%{FOREIGN}@[{ip}]"),
        Trick("percent hack via localhost", f"victim%{FOREIGN}@localhost"),
        # Source routes.
        Trick("source route via the host", f"@{FQDN}:victim@{FOREIGN}"),
        Trick("source route via the reply domain", f"@{REPLY}:victim@{FOREIGN}"),
        Trick("source route via the no-reply domain", f"@{NOREPLY}:victim@{FOREIGN}"),
        Trick("source route via the own IP", f"@[{ip}]:victim@{FOREIGN}"),
        Trick("source route, two hops", f"@{REPLY},@{FQDN}:victim@{FOREIGN}"),
        Trick("source route, three hops ending at the reply domain", f"@{FQDN},@{NOREPLY},@{REPLY}:victim@{FOREIGN}"),
        # Bang paths.
        Trick("bang path via the host", f"{FOREIGN}!victim@{FQDN}"),
        Trick("bang path via the reply domain", f"{FOREIGN}!victim@{REPLY}"),
        Trick("bang path via the no-reply domain", f"{FOREIGN}!victim@{NOREPLY}"),
        Trick("bang path, two hops", f"relay!{FOREIGN}!victim@{REPLY}"),
        Trick("bang path alone", f"{FOREIGN}!victim"),
        # Quoted local parts and stray @ signs.
        Trick("quoted address via the host", f'"victim@{FOREIGN}"@{FQDN}'),
        Trick("quoted address via the reply domain", f'"victim@{FOREIGN}"@{REPLY}'),
        Trick("quoted address via the no-reply domain", f'"victim@{FOREIGN}"@{NOREPLY}'),
        Trick("quoted percent hack via the reply domain", f'"victim%{FOREIGN}"@{REPLY}'),
        Trick("quoted root@[own IP]", f'"root"@[{ip}]'),
        Trick("two @ signs, foreign last", f"victim@{REPLY}@{FOREIGN}"),
        Trick("two @ signs, reply domain last", f"victim@{FOREIGN}@{REPLY}"),
        # Trailing dots.
        Trick("foreign domain with a trailing dot", f"victim@{FOREIGN}."),
        Trick("reply domain with a trailing dot", f"reply+{{token}}@{REPLY}.", MAILDIR),
        Trick("sub-domain of the no-reply domain with a trailing dot", f"victim@evil.{NOREPLY}."),
        # Senders that pretend to be local.
        Trick("null sender to a foreign domain", f"victim@{FOREIGN}", mail=""),
        Trick("MAIL FROM root@<host> to a foreign domain", f"victim@{FOREIGN}", mail=f"root@{FQDN}"),
        Trick("MAIL FROM the no-reply address to a foreign domain", f"victim@{FOREIGN}", mail=f"noreply@{NOREPLY}"),
        Trick("MAIL FROM root@localhost to a foreign domain", f"victim@{FOREIGN}", mail="root@localhost"),
        Trick("MAIL FROM postmaster to a foreign domain", f"victim@{FOREIGN}", mail="postmaster"),
        # UTF-8 addresses (SMTPUTF8 is not offered; nothing may get through either way).
        Trick("UTF-8 foreign address with SMTPUTF8", f"vïctim@bücher.{FOREIGN}", utf8=True),
        Trick("UTF-8 local part in the reply domain with SMTPUTF8", f"rëply+{{token}}@{REPLY}", utf8=True),
        Trick("UTF-8 sub-domain of the no-reply domain with SMTPUTF8", f"victim@ëvil.{NOREPLY}", utf8=True),
        Trick("UTF-8 foreign address, undeclared", f"vïctim@bücher.{FOREIGN}", raw8=True),
        Trick("UTF-8 local part in the reply domain, undeclared", f"rëply+{{token}}@{REPLY}", MAILDIR, raw8=True),
        Trick("UTF-8 sub-domain of the no-reply domain, undeclared", f"victim@ëvil.{NOREPLY}", raw8=True),
        Trick("UTF-8 own-IP literal, undeclared", f"röot@[{ip}]", raw8=True),
        # AUTH, XCLIENT, VRFY and EXPN.
        Trick("AUTH PLAIN on port 25", commands=("AUTH PLAIN " + base64.b64encode(b"\0notify\0guess").decode(),), expect="503"),
        Trick("AUTH LOGIN on port 25", commands=("AUTH LOGIN",), expect="503"),
        Trick("AUTH PLAIN after STARTTLS", commands=("AUTH PLAIN " + base64.b64encode(b"\0notify\0guess").decode(),), starttls=True, expect="503"),
        Trick("XCLIENT ADDR=127.0.0.1, then a foreign domain", f"victim@{FOREIGN}", commands=("XCLIENT ADDR=127.0.0.1",)),
        Trick("XFORWARD ADDR=127.0.0.1, then a foreign domain", f"victim@{FOREIGN}", commands=("XFORWARD ADDR=127.0.0.1",)),
        *(Trick(f"VRFY {user}", commands=(f"VRFY {user}",), expect="502") for user in ("root", "nosuchuser", "postmaster")),
        *(Trick(f"EXPN {user}", commands=(f"EXPN {user}",), expect="500") for user in ("root", "nosuchuser", "postmaster")),
    ]


# Runs on `outside`: one SMTP session per trick; prints one JSON object per trick.
PROBE = r"""
import json, smtplib, ssl, sys

server, suite, tricks = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])

def reply(answer):
    code, text = answer
    return "%d %s" % (code, text.decode("utf-8", "replace").replace("\n", " / "))

for number, trick in enumerate(tricks):
    token = "%s-%02d" % (suite, number)
    out = {"name": trick["name"], "token": token, "commands": []}
    try:
        smtp = smtplib.SMTP(server, 25, local_hostname=trick["helo"], timeout=30)
        smtp.command_encoding = "utf-8"
        smtp.ehlo()
        out["ehlo"] = sorted(smtp.esmtp_features)
        if trick["starttls"]:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # the appliance's self-signed certificate
            out["starttls"] = reply(smtp.starttls(context=context))
            smtp.ehlo()
            out["ehlo_tls"] = sorted(smtp.esmtp_features)
        for command in trick["commands"]:
            out["commands"].append(reply(smtp.docmd(command)))
        if trick["rcpt"] is not None:
            rcpt = trick["rcpt"].replace("{token}", token)
            out["rcpt_arg"] = rcpt if trick["bare"] else "<%s>" % rcpt
            out["mail"] = reply(smtp.docmd("MAIL FROM:<%s>%s" % (trick["mail"], " SMTPUTF8" if trick["utf8"] else "")))
            out["rcpt"] = reply(smtp.docmd("RCPT TO:" + out["rcpt_arg"]))
            if out["rcpt"].startswith("250"):
                message = (
                    "From: <%s>\r\nTo: undisclosed-recipients:;\r\nSubject: hostile %s\r\n"
                    "Message-ID: <%s@mx.foreign.test>\r\n\r\nhostile outsider trick %s\r\n" % (trick["mail"], token, token, token)
                )
                out["data"] = reply(smtp.data(message))
        try:
            smtp.quit()
        except smtplib.SMTPException:
            pass
    except (OSError, smtplib.SMTPException) as error:
        out["error"] = "%s: %s" % (type(error).__name__, error)
    print(json.dumps(out), flush=True)
"""

DELIVERY = re.compile(r"\b([0-9A-F]{6,}): to=<([^>]*)>,(?: orig_to=<([^>]*)>,)? relay=([^,]+),.* status=(\w+)")


def queue_id(data_reply):
    found = re.search(r"queued as ([0-9A-F]+)", data_reply or "")
    return found.group(1) if found else None


def deliveries(appliance, since):
    """Every delivery attempt in the appliance's Postfix log since the epoch second since: queue id -> [(to, orig_to, relay, status)]."""
    log = appliance.check_output(f"journalctl --no-pager -q -o cat --since @{since} | grep -F ': to=<' || true")
    found = {}
    for match in DELIVERY.finditer(log):
        found.setdefault(match.group(1), []).append(match.group(2, 3, 4, 5))
    return found


def where(result, attempts):
    if "error" in result:
        return result["error"]
    if "rcpt" not in result:
        return "(no message)"
    qid = queue_id(result.get("data"))
    if qid is None:
        return "refused" if not result["rcpt"].startswith("250") else "accepted, no queue id: " + result.get("data", "")
    return "; ".join(f"{to} relay={relay} {status}" for to, _orig, relay, status in attempts.get(qid, [])) or f"{qid} still queued"


def outcome(result, attempts):
    """What happened to the trick, in the vocabulary of Trick.expect."""
    if "rcpt" not in result:
        return (result["commands"] or ["(none)"])[-1][:3]
    if result["mail"].startswith("5") or result["rcpt"].startswith("5"):
        return REFUSED
    if not result["rcpt"].startswith("250"):
        return "RCPT answered " + result["rcpt"]
    qid = queue_id(result.get("data"))
    relays = {(relay, status, to) for to, _orig, relay, status in attempts.get(qid, [])}
    if relays and all(relay == "virtual" and status == "sent" for relay, status, _to in relays):
        return MAILDIR
    if relays and all(relay == "none" and status == "sent" for relay, status, _to in relays):
        return DISCARD
    if relays and all(relay == "local" and status == "sent" and to == "root@localhost" for relay, status, to in relays):
        return POSTMASTER
    return f"accepted, went to {sorted(relays)}"


@pytest.fixture(scope="module")
def played(appliance, outside, relay):
    """Play every trick from `outside`, wait until every accepted message is delivered or dropped, and follow it."""
    ip = appliance.check_output("hostname -I").split()[0]
    relay_ip = relay.check_output("hostname -I").split()[0]
    played_tricks = tricks(ip, relay_ip)
    since = int(appliance.check_output("date +%s")) - 1
    spec = json.dumps(
        [
            {
                "name": t.name,
                "rcpt": t.rcpt,
                "mail": t.mail,
                "helo": t.helo,
                "bare": t.bare,
                "utf8": t.utf8,
                "starttls": t.starttls,
                "commands": list(t.commands),
            }
            for t in played_tricks
        ]
    )
    run = outside.run(f"python3 -c {shlex.quote(PROBE)} {FQDN} {SUITE} {shlex.quote(spec)}")
    assert run.rc == 0, run.stderr
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["name"] for r in results] == [t.name for t in played_tricks]
    accepted = {qid for qid in (queue_id(r.get("data")) for r in results) if qid}
    deadline = time.monotonic() + WAIT
    while True:
        removed = set(re.findall(r"\b([0-9A-F]{6,}): removed", appliance.run(f"journalctl --no-pager -q -o cat --since @{since} -t postfix/qmgr").stdout))
        if accepted <= removed or time.monotonic() > deadline:
            break
        time.sleep(1)
    attempts = deliveries(appliance, since)
    return {"tricks": played_tricks, "results": results, "attempts": attempts, "since": since, "ip": ip}


def test_report_every_trick_with_its_reply_and_destination(played, capsys):
    rows = [("trick", "RCPT / command reply", "DATA reply", "where it went")]
    for trick, result in zip(played["tricks"], played["results"]):
        answer = result.get("rcpt") or "; ".join(result["commands"]) or result.get("error", "")
        if result.get("mail", "250").startswith("5"):
            answer = "MAIL " + result["mail"]
        rows.append((trick.name, answer[:90], (result.get("data") or "")[:40], where(result, played["attempts"])[:80]))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}} | {b:<{widths[1]}} | {c:<{widths[2]}} | {d}" for a, b, c, d in rows]
    with capsys.disabled():
        print(f"\n\nhostile outsider: {len(played['tricks'])} tricks from `outside` against {FQDN} ({played['ip']}), suite token {SUITE}")
        print("\n".join([*lines[:1], "-" * len(lines[0]), *lines[1:]]) + "\n")


@pytest.mark.parametrize("number", range(len(tricks("192.0.2.10", "192.0.2.20"))), ids=[t.name for t in tricks("192.0.2.10", "192.0.2.20")])
def test_trick_has_the_expected_outcome(played, number):
    trick, result = played["tricks"][number], played["results"][number]
    assert "error" not in result, result["error"]
    got = outcome(result, played["attempts"])
    assert got == trick.expect, (result, where(result, played["attempts"]))
    if got == REFUSED:  # a permanent refusal (5xx) of the sender or of the recipient, never a temporary one
        assert result["mail"].startswith("5") or result["rcpt"].startswith("5"), result


def test_no_answer_tells_an_existing_local_account_from_a_missing_one(played):
    by_name = {t.name: r for t, r in zip(played["tricks"], played["results"])}

    def answer(name, user):
        result = by_name[name]
        return (result.get("rcpt") or result["commands"][-1]).replace(user, "USER")

    for template in ("{}@[own IP]", "{}@localhost", "bare {}", "VRFY {}", "EXPN {}"):
        users = ("root", "postfix", "nobody", "www-data", "nosuchuser") if "own IP" in template else ("root", "nosuchuser")
        answers = {user: answer(template.format(user), user) for user in users}
        assert len(set(answers.values())) == 1, answers


def test_auth_is_not_offered_on_port_25(played):
    for result in played["results"]:
        assert not any(feature.startswith("auth") for feature in result.get("ehlo", []) + result.get("ehlo_tls", [])), result
    assert not any("smtputf8" in result.get("ehlo", []) for result in played["results"])


def test_the_queue_holds_nothing_from_outside(appliance, played):
    ours = {queue_id(r.get("data")) for r in played["results"]} - {None}
    queued = [json.loads(line) for line in appliance.check_output("postqueue -j").splitlines() if line.strip()]
    leftovers = [q for q in queued if q["queue_id"] in ours or q["sender"].endswith(FOREIGN) or q["sender"] in ("", f"root@{FQDN}")]
    assert leftovers == []


def test_the_log_shows_outside_mail_only_in_the_maildir_discarded_or_to_postmaster(appliance, outside, played):
    """Every message that `outside` got accepted, over the whole scenario (the other test modules' too)."""
    ip = outside.check_output("hostname -I").split()[0]
    smtpd = appliance.check_output("journalctl --no-pager -q -o cat -t postfix/smtpd")
    from_outside = set(re.findall(rf"\b([0-9A-F]{{6,}}): client=[^\[]*\[{re.escape(ip)}\]", smtpd))
    assert from_outside, "no message from outside in the log: the suite did not run"
    attempts = deliveries(appliance, 0)
    bad = {}
    for qid in from_outside:
        for to, orig_to, relay_name, status in attempts.get(qid, []):
            if relay_name == "virtual" and to.lower().endswith("@" + REPLY):
                continue
            if relay_name == "none" and to.lower().endswith("@" + NOREPLY):
                continue
            if relay_name == "local" and to == "root@localhost" and (orig_to or "").lower() == "postmaster":
                continue
            bad.setdefault(qid, []).append((to, orig_to, relay_name, status))
    assert bad == {}
    bounces = re.findall(r"\b([0-9A-F]{6,}): sender non-delivery notification", appliance.check_output("journalctl --no-pager -q -o cat -t postfix/bounce"))
    assert set(bounces) & from_outside == set()


def test_local_mailboxes_got_only_the_postmaster_messages(appliance, played):
    tokens = {r["token"] for r in played["results"]}
    postmaster = {r["token"] for t, r in zip(played["tricks"], played["results"]) if t.expect == POSTMASTER}
    found = appliance.run(f"grep -r -o -h -E -e 'hostile outsider trick {SUITE}-[0-9]+' /var/mail --exclude-dir=mailops")
    got = {line.rsplit(" ", 1)[1] for line in found.stdout.splitlines()}
    assert got <= tokens
    assert got == postmaster
    in_root = appliance.run(f"grep -o -h -E -e 'hostile outsider trick {SUITE}-[0-9]+' /var/mail/root").stdout
    assert {line.rsplit(" ", 1)[1] for line in in_root.splitlines()} == postmaster


def test_the_reply_maildir_got_exactly_the_reply_tricks(appliance, played):
    wanted = {r["token"] for t, r in zip(played["tricks"], played["results"]) if t.expect == MAILDIR}
    found = appliance.run(f"grep -r -o -h -E -e 'hostile outsider trick {SUITE}-[0-9]+' {REPLY_MAILDIR}")
    assert {line.rsplit(" ", 1)[1] for line in found.stdout.splitlines()} == wanted


def test_the_provider_got_nothing_from_the_suite(relay, played):
    found = relay.run(f"grep -r -l -F -e {SUITE} {RELAY_MAILDIRS}")
    assert found.stdout == ""
