# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module util is PRIVATE to the collection. It can have breaking changes at any time.

"""The one rule for one-line values, shared by every library that writes a value into a file, a header or the wire.

A one-line value holds no character that ``str.splitlines()`` splits on (LF, CR, VT, FF, FS, GS, RS, NEL, U+2028,
U+2029), no other control character (NUL, TAB, ESC, DEL, the C1 controls) and no lone surrogate (not valid UTF-8).
"""

from __future__ import annotations

import json
import unicodedata

__all__ = ["first_forbidden", "forbidden_character", "shown"]

_FORBIDDEN_CATEGORIES = frozenset(("Cc", "Zl", "Zp", "Cs"))


def first_forbidden(value: str, allowed: str = "") -> tuple[int, str] | None:
    """The position and the first character of value that a one-line value may not hold, or None.

    allowed: characters that are fine in this value (a message body takes TAB and line breaks).
    """
    for position, char in enumerate(value):
        if char not in allowed and unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            return position, char
    return None


def forbidden_character(value: str, allowed: str = "") -> str | None:
    """Describe the first forbidden character of value (kind, code point, position), or None."""
    found = first_forbidden(value, allowed)
    if found is None:
        return None
    position, char = found
    if unicodedata.category(char) == "Cs":
        kind = "a lone surrogate (not valid UTF-8)"
    elif len(f"a{char}a".splitlines()) > 1:
        kind = "a line break"
    else:
        kind = "a control character"
    return f"{kind} (U+{ord(char):04X}) at position {position}"


def shown(value: str) -> str:
    """A value quoted so that every unusual character is visible (and none reaches a terminal raw)."""
    return json.dumps(value, ensure_ascii=True)
