#!/usr/bin/env python3
"""A scripted SMTP server: the next hop the delivery tests need.

smtp-sink accepts everything; this server answers what the test tells it
to, and writes down everything it saw, so a test can check what the
gateway did on the wire:

- exact replies per recipient and per end of DATA (4xx, 5xx, then 250),
  each rule a sequence consumed one match at a time, its last reply
  repeating;
- STARTTLS not offered, offered but broken (a TLS handshake that cannot
  succeed), or real TLS with a certificate the test made;
- a delay before answering the end of DATA, to keep connections open;
- every connection, command and reply as one JSON object per line in the
  events file (flushed per line), with the number of connections open at
  each connect: a connection counts as open from accept until the client
  says QUIT or goes away.

Python 3.11 standard library only. One argument: the JSON configuration

    {
      "listen": "127.4.7.40:25",
      "events": "/tmp/x/events.jsonl",
      "hostname": "mx.example.test",          # greeting / EHLO name
      "starttls": "none" | "broken" | "tls",  # default "none"
      "cert": "/path/cert.pem", "key": "/path/key.pem",   # for "tls"
      "pipelining": true,                     # advertise PIPELINING
      "rcpt": [{"match": "regex", "replies": ["550 5.1.1 no", "250 2.1.5 ok"]}],
      "data": [{"match": "regex", "replies": ["451 4.3.0 later", "250 2.0.0 ok"]}],
      "data_delay": 0.5                       # seconds before the DATA reply
    }

A `data` rule matches when its regex is found in any accepted recipient
of the transaction; the first matching rule answers. Without a match the
reply is 250.
"""

import asyncio
import json
import re
import ssl
import sys
import time

CONFIG = json.loads(sys.argv[1])
EVENTS = open(CONFIG["events"], "a", buffering=1, encoding="utf-8")
HOSTNAME = CONFIG.get("hostname", "scripted.test")
STARTTLS = CONFIG.get("starttls", "none")
DATA_DELAY = float(CONFIG.get("data_delay", 0))
MAX_LINE = 4096
MAX_MESSAGE = 10 * 1024 * 1024

state = {"next_conn": 0, "open": 0}


class Rule:
    def __init__(self, spec):
        self.regex = re.compile(spec["match"], re.IGNORECASE)
        self.replies = list(spec["replies"])
        self.used = 0

    def take(self):
        reply = self.replies[min(self.used, len(self.replies) - 1)]
        self.used += 1
        return reply


RCPT_RULES = [Rule(r) for r in CONFIG.get("rcpt", [])]
DATA_RULES = [Rule(r) for r in CONFIG.get("data", [])]


def event(**fields):
    fields["t"] = time.time()
    EVENTS.write(json.dumps(fields) + "\n")


def addr_of(arg):
    m = re.search(r"<([^>]*)>", arg)
    return m.group(1) if m else arg.split(":", 1)[-1].strip().split(" ")[0]


def header(message, name):
    head = message.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    m = re.search(r"(?im)^" + re.escape(name) + r":\s*(.*(?:\r\n[ \t].*)*)", head)
    return re.sub(r"\s+", " ", m.group(1)).strip() if m else None


class Session:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        state["next_conn"] += 1
        self.conn = state["next_conn"]
        self.counted = True
        self.tls = False
        self.tx = 0
        self.reset()

    def reset(self):
        self.mail_from = None
        self.rcpts = []

    def leave(self):
        if self.counted:
            self.counted = False
            state["open"] -= 1

    async def reply(self, text):
        self.writer.write(text.encode() + b"\r\n")
        await self.writer.drain()

    async def readline(self):
        line = await self.reader.readuntil(b"\n")
        if len(line) > MAX_LINE:
            raise ValueError("line too long")
        return line.decode("utf-8", "replace").rstrip("\r\n")

    async def run(self):
        peer = self.writer.get_extra_info("peername")
        state["open"] += 1
        event(ev="connect", conn=self.conn, peer="%s:%d" % peer[:2], open=state["open"])
        try:
            await self.reply("220 %s ESMTP scripted" % HOSTNAME)
            while True:
                line = await self.readline()
                if not await self.command(line):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, ssl.SSLError) as e:
            event(ev="error", conn=self.conn, error=type(e).__name__ + ": " + str(e))
        finally:
            self.leave()
            event(ev="close", conn=self.conn, open=state["open"])
            try:
                self.writer.close()
            except Exception:
                pass

    async def command(self, line):
        verb = line.split(" ", 1)[0].upper()
        arg = line[len(verb):].strip()
        if verb in ("EHLO", "HELO"):
            event(ev="ehlo", conn=self.conn, arg=arg, tls=self.tls)
            self.reset()
            if verb == "HELO":
                await self.reply("250 %s" % HOSTNAME)
                return True
            caps = [HOSTNAME, "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES"]
            if CONFIG.get("pipelining", True):
                caps.append("PIPELINING")
            if STARTTLS != "none" and not self.tls:
                caps.append("STARTTLS")
            for c in caps[:-1]:
                self.writer.write(("250-%s\r\n" % c).encode())
            await self.reply("250 %s" % caps[-1])
        elif verb == "STARTTLS":
            event(ev="starttls", conn=self.conn)
            if STARTTLS == "none" or self.tls:
                await self.reply("502 5.5.1 STARTTLS not available")
                return True
            await self.reply("220 2.0.0 Ready to start TLS")
            if STARTTLS == "broken":
                # Whatever the client sends, the answer is not TLS.
                try:
                    await asyncio.wait_for(self.reader.read(1024), 5)
                except Exception:
                    pass
                self.writer.write(b"this is not a TLS server hello\r\n" * 4)
                await self.writer.drain()
                event(ev="tls", conn=self.conn, ok=False, error="broken on purpose")
                return False
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(CONFIG["cert"], CONFIG["key"])
            try:
                await self.writer.start_tls(ctx)
            except Exception as e:
                event(ev="tls", conn=self.conn, ok=False, error=type(e).__name__ + ": " + str(e))
                return False
            obj = self.writer.get_extra_info("ssl_object")
            self.tls = True
            self.reset()
            event(ev="tls", conn=self.conn, ok=True, version=obj.version(), cipher=obj.cipher()[0])
        elif verb == "MAIL":
            self.tx += 1
            self.reset()
            self.mail_from = addr_of(arg)
            event(ev="mail", conn=self.conn, tx=self.tx, sender=self.mail_from, tls=self.tls)
            await self.reply("250 2.1.0 Ok")
        elif verb == "RCPT":
            to = addr_of(arg)
            if self.mail_from is None:
                await self.reply("503 5.5.1 Error: need MAIL command")
                return True
            text = "250 2.1.5 Ok"
            for rule in RCPT_RULES:
                if rule.regex.search(to):
                    text = rule.take()
                    break
            code = int(text[:3])
            if code // 100 == 2:
                self.rcpts.append(to)
            event(ev="rcpt", conn=self.conn, tx=self.tx, to=to, code=code, reply=text)
            await self.reply(text)
        elif verb == "DATA":
            if self.mail_from is None or not self.rcpts:
                await self.reply("554 5.5.1 Error: no valid recipients")
                return True
            await self.reply("354 End data with <CR><LF>.<CR><LF>")
            message = await self.read_data()
            text = "250 2.0.0 Ok: queued"
            for rule in DATA_RULES:
                if any(rule.regex.search(r) for r in self.rcpts):
                    text = rule.take()
                    break
            if DATA_DELAY > 0:
                await asyncio.sleep(DATA_DELAY)
            event(
                ev="data",
                conn=self.conn,
                tx=self.tx,
                sender=self.mail_from,
                rcpts=self.rcpts,
                code=int(text[:3]),
                reply=text,
                message_id=header(message, "Message-ID"),
                subject=header(message, "Subject"),
                size=len(message),
                tls=self.tls,
            )
            self.reset()
            await self.reply(text)
        elif verb == "RSET":
            self.reset()
            event(ev="rset", conn=self.conn)
            await self.reply("250 2.0.0 Ok")
        elif verb == "NOOP":
            await self.reply("250 2.0.0 Ok")
        elif verb == "QUIT":
            self.leave()
            event(ev="quit", conn=self.conn, open=state["open"])
            await self.reply("221 2.0.0 Bye")
            return False
        else:
            event(ev="unknown", conn=self.conn, line=line[:200])
            await self.reply("502 5.5.2 Error: command not recognized")
        return True

    async def read_data(self):
        lines = []
        size = 0
        while True:
            line = await self.reader.readuntil(b"\n")
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if size <= MAX_MESSAGE:
                lines.append(line)
        return b"".join(lines)


async def main():
    host, port = CONFIG["listen"].rsplit(":", 1)
    server = await asyncio.start_server(
        lambda r, w: Session(r, w).run(), host, int(port), reuse_address=True, limit=MAX_LINE * 2
    )
    event(ev="ready", listen=CONFIG["listen"])
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
