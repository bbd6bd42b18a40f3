# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A misbehaving SMTP server on 127.0.0.1 for the integration tests, standard library only.

It listens on two free ports and writes them, "BANNER_PORT EHLO_PORT", to the file named by its only argument.
On the first port it trickles an endless multi-line banner, on the second an endless EHLO reply after a prompt
banner, one byte every 50 ms. It is bounded: each connection is served for at most TRICKLE seconds and the server
exits after LIFETIME seconds, whether or not anyone stopped it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time

LIFETIME = 120.0
TRICKLE = 20.0
INTERVAL = 0.05


def trickle(conn: socket.socket, pattern: bytes) -> None:
    end = time.monotonic() + TRICKLE
    index = 0
    while time.monotonic() < end:
        position = index % len(pattern)
        conn.sendall(pattern[position : position + 1])
        index += 1
        time.sleep(INTERVAL)


def banner(conn: socket.socket) -> None:
    trickle(conn, b"220-trickle.example.test still greeting\r\n")


def ehlo(conn: socket.socket) -> None:
    conn.sendall(b"220 trickle.example.test ESMTP\r\n")
    if conn.makefile("rb").readline(1024).upper().startswith((b"EHLO", b"HELO")):
        trickle(conn, b"250-TRICKLE still listing keywords\r\n")


def handle(conn: socket.socket, script) -> None:
    with contextlib.suppress(OSError), conn:
        conn.settimeout(TRICKLE)
        script(conn)


def serve(listener: socket.socket, script, deadline: float) -> None:
    listener.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            conn, _addr = listener.accept()
        except OSError:
            continue
        threading.Thread(target=handle, args=(conn, script), daemon=True).start()


def main() -> None:
    deadline = time.monotonic() + LIFETIME
    listeners = []
    for _script in (banner, ehlo):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listeners.append(listener)
    threads = [threading.Thread(target=serve, args=(lst, script, deadline), daemon=True) for lst, script in zip(listeners, (banner, ehlo))]
    for thread in threads:
        thread.start()
    with open(sys.argv[1] + ".tmp", "w", encoding="ascii") as handle_:
        handle_.write(" ".join(str(lst.getsockname()[1]) for lst in listeners))
    # written whole, then renamed: the test never reads half a line
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
