# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The support bundle: redact the evidence, compute the verdict, render the report, pack a private tar.gz.

:func:`build_bundle` does everything in memory and then scans every member (and the verdict that the module returns)
for every form of every secret; :class:`SecretLeakError` stops the bundle before anything is written.
:func:`write_private` writes the tarball with mode 0600 through a temporary file in the same directory.
"""

from __future__ import annotations

import datetime
import gzip
import io
import json
import os
import tarfile
import tempfile
import typing as t
from dataclasses import dataclass

from ansible_collections.mailops.notify.plugins.module_utils._redact import Redactor, find_secrets
from ansible_collections.mailops.notify.plugins.module_utils._report import render_report
from ansible_collections.mailops.notify.plugins.module_utils._text import forbidden_character
from ansible_collections.mailops.notify.plugins.module_utils._verdict import Verdict, analyze, firewall_port_state

__all__ = [
    "BUNDLE_MEMBERS",
    "Bundle",
    "BundleError",
    "SecretLeakError",
    "build_bundle",
    "bundle_prefix",
    "check_dest",
    "tar_gz",
    "write_private",
]

BUNDLE_MEMBERS = ("verdict.txt", "report.html", "evidence.json", "postconf.txt")
# Keys of registered results that only repeat the task's arguments.
_DROPPED_KEYS = ("invocation", "_ansible_no_log", "_ansible_verbose_always", "_ansible_delegated_vars")


class BundleError(Exception):
    """Base class of the errors of this module util."""


class SecretLeakError(BundleError):
    """A form of a secret was found in what would be written. Carries the names of the members, never the secret."""

    def __init__(self, places: t.Sequence[str]) -> None:
        super().__init__(f"a secret survived redaction in {', '.join(places)}; nothing was written")
        self.places = list(places)


@dataclass
class Bundle:
    verdict: Verdict
    members: dict[str, bytes]
    prefix: str

    def result(self) -> dict[str, t.Any]:
        return self.verdict.as_dict()


def bundle_prefix(dest: str) -> str:
    """The directory inside the tarball: the file name without ``.tar.gz``/``.tgz``."""
    name = os.path.basename(dest.rstrip("/")) or "mail-support"
    for suffix in (".tar.gz", ".tgz", ".gz", ".tar"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name


def check_dest(dest: str) -> str:
    """Check that the tarball can be written at ``dest`` before anything is built; return the directory it goes in.

    ``dest`` must name a file (not a directory), be one line, and the nearest existing directory above it must be a
    directory the module may write into (missing directories below it are created by :func:`write_private`).
    Raise :class:`BundleError` naming ``dest`` and the rule.
    """
    if not isinstance(dest, str) or not dest:
        raise BundleError("dest must be the path of the tarball to write")
    problem = forbidden_character(dest)
    if problem is not None:
        raise BundleError(f"dest {json.dumps(dest)} contains {problem}; it must be one line")
    if dest.endswith("/") or os.path.isdir(dest):
        raise BundleError(f"dest {dest} is a directory; give the path of the tarball to write, for example {dest.rstrip('/')}/mail-support.tar.gz")
    if os.path.lexists(dest) and not os.path.isfile(dest):
        raise BundleError(f"dest {dest} exists and is not a regular file; it is not replaced")
    directory = os.path.dirname(os.path.abspath(dest))
    existing = directory
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise BundleError(f"dest {dest}: {existing} is not a directory, so the directory for the tarball cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "write into" if existing == directory else f"create {directory} in"
        raise BundleError(f"dest {dest}: cannot {what} {existing} (permission denied or read-only)")
    return directory


def _postconf_text(value: t.Any) -> str:
    if isinstance(value, t.Mapping):
        if value.get("skipped"):
            return ""
        if value.get("stdout_lines"):
            return "\n".join(str(line) for line in value["stdout_lines"])
        return str(value.get("stdout") or "")
    if isinstance(value, (list, tuple)):
        return "\n".join(str(line) for line in value)
    return str(value or "")


def _clean(evidence: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    cleaned: dict[str, t.Any] = {}
    for key, value in evidence.items():
        if isinstance(value, t.Mapping):
            cleaned[str(key)] = {k: v for k, v in value.items() if k not in _DROPPED_KEYS}
        else:
            cleaned[str(key)] = value
    return cleaned


def build_bundle(
    evidence: t.Mapping[str, t.Any],
    secrets: t.Sequence[str | None] = (),
    *,
    hostname: str = "",
    generated_at: str | None = None,
    prefix: str = "mail-support",
) -> Bundle:
    """Redact, analyse, render and scan; raise :class:`SecretLeakError` when a secret form is left anywhere."""
    if not isinstance(evidence, t.Mapping):
        raise BundleError("evidence must be a dictionary")
    for where, value in (("hostname", hostname), ("evidence hostname", evidence.get("hostname"))):
        problem = forbidden_character(value) if isinstance(value, str) else None
        if problem is not None:
            raise BundleError(f"{where} contains {problem}; it must be one line")
    redactor = Redactor(secrets)
    generated_at = generated_at or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    cleaned = _clean(evidence)
    postconf = redactor.postconf(_postconf_text(cleaned.pop("postconf", "")))
    redacted = redactor.value(cleaned)
    redacted["postconf"] = postconf
    hostname = hostname or str(redacted.get("hostname") or "")
    verdict = analyze(redacted, hostname or None)
    firewall = firewall_port_state(redacted.get("firewall"), 25)
    report = render_report(verdict.as_dict(), redacted, hostname=hostname, generated_at=generated_at, firewall=firewall, postconf=postconf)
    document = {
        "generated_at": generated_at,
        "hostname": hostname,
        "generator": "mailops.notify.support_bundle",
        "verdict": verdict.as_dict(),
        "firewall_25": firewall,
        "evidence": redacted,
    }
    members = {
        "verdict.txt": f"Mail troubleshooting verdict for {hostname or 'the host'} ({generated_at})\n\n{verdict.text()}".encode(),
        "report.html": report.encode("utf-8"),
        "evidence.json": (json.dumps(document, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8"),
        "postconf.txt": (postconf.rstrip("\n") + "\n" if postconf else "# postconf -n was not read\n").encode("utf-8"),
    }
    leaks = [name for name, data in members.items() if find_secrets(data, redactor.forms)]
    if find_secrets(json.dumps(verdict.as_dict(), default=str), redactor.forms):
        leaks.append("the module result")
    if leaks:
        raise SecretLeakError(leaks)
    return Bundle(verdict=verdict, members=members, prefix=prefix)


def tar_gz(members: t.Mapping[str, bytes], prefix: str, *, mtime: float | None = None) -> bytes:
    """Pack the members under ``prefix/`` into a gzip-compressed tarball, every member mode 0600, owned by uid 0."""
    mtime = int(mtime if mtime is not None else datetime.datetime.now(datetime.timezone.utc).timestamp())
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo(prefix)
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o700
        directory.mtime = mtime
        tar.addfile(directory)
        for name, data in members.items():
            info = tarfile.TarInfo(f"{prefix}/{name}")
            info.size = len(data)
            info.mode = 0o600
            info.mtime = mtime
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=mtime)


def write_private(path: str, data: bytes) -> None:
    """Write data to path with mode 0600: a private temporary file in the same directory, renamed into place."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".support-bundle-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
