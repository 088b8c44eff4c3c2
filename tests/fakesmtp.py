"""A mail server on 127.0.0.1 for tests: enough SMTP for Django's SMTP backend, every message it accepted
kept in order, and an optional pause before it confirms one (a slow server keeps a sender mid-send)."""

from __future__ import annotations

import contextlib
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message


@dataclass
class MailServer:
    port: int = 0
    pause_before_accepting: float = 0.0
    accepted: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, raw: bytes) -> None:
        with self.lock:
            self.accepted.append(message_from_bytes(raw))


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 fakesmtp ready")
        while line := self.rfile.readline():
            verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb == "QUIT":
                self.reply("221 bye")
                return
            if verb == "EHLO":
                self.reply("250-fakesmtp\r\n250 8BITMIME")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                self.server.mail.keep(self.read_message())
                time.sleep(self.server.mail.pause_before_accepting)
                self.reply("250 accepted")
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                self.reply("250 ok")

    def read_message(self) -> bytes:
        lines: list[bytes] = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    mail: MailServer


@contextlib.contextmanager
def mail_server(pause_before_accepting: float = 0.0) -> Iterator[MailServer]:
    """Serves SMTP on a free loopback port for the duration; yields the server's record."""
    with _Server(("127.0.0.1", 0), _Session) as server:
        server.mail = MailServer(port=server.server_address[1], pause_before_accepting=pause_before_accepting)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.mail
        finally:
            server.shutdown()
