"""Sending ready-made messages over SMTP (aiosmtplib), one connection per batch; never builds or queues mail."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib import errors as E

from daemon import tls

log = logging.getLogger("officeflow.smtp")


@dataclass(frozen=True)
class Outgoing:
    key: str                 # the caller's id for this message (e.g. an outbox row)
    mail_from: str           # envelope sender
    rcpts: tuple[str, ...]   # envelope recipients
    data: bytes              # the whole RFC 5322 message


@dataclass(frozen=True)
class SendResult:
    key: str
    ok: bool
    temporary: bool          # only meaningful when not ok: try again later
    error: str               # "" when everything went through
    held: bool = False       # not tried at all: the server could not be used (connection, TLS, login)


class SmtpError(Exception):
    """Connecting or logging in failed; the message never holds a password."""

    def __init__(self, message: str, temporary: bool):
        super().__init__(message)
        self.temporary = temporary


def _client(cfg) -> aiosmtplib.SMTP:
    security = (cfg.security or "ssl").lower()
    if security not in ("ssl", "starttls", "none"):
        raise SmtpError("smtp.security must be ssl, starttls or none, not %r" % cfg.security, False)
    encrypted = security in ("ssl", "starttls")
    return aiosmtplib.SMTP(
        hostname=cfg.host, port=cfg.port, timeout=getattr(cfg, "timeout", 30),
        use_tls=security == "ssl", start_tls=security == "starttls",
        tls_context=tls.context(getattr(cfg, "ca_file", "")) if encrypted else None,
    )


async def _connect(cfg) -> aiosmtplib.SMTP:
    client = _client(cfg)
    where = "%s:%s" % (cfg.host, cfg.port)
    server = "SMTP server " + where
    try:
        await client.connect()
        if cfg.username:
            if cfg.password is None:
                raise SmtpError("no SMTP password for %s (set password_env or password_file)"
                                % cfg.username, False)
            await client.login(cfg.username, cfg.password)
    except SmtpError:
        await _close(client)
        raise
    except E.SMTPAuthenticationError as exc:
        await _close(client)
        raise SmtpError("SMTP login refused for %s at %s: %d %s"
                        % (cfg.username, where, exc.code, exc.message), exc.code < 500) from None
    except E.SMTPResponseException as exc:
        await _close(client)
        raise SmtpError("SMTP server %s answered %d %s" % (where, exc.code, exc.message),
                        exc.code < 500) from None
    except (ssl.SSLError, E.SMTPNotSupported) as exc:
        await _close(client)
        raise SmtpError(tls.explain(exc, server) or "TLS with %s failed: %s" % (where, exc), False) from None
    except (E.SMTPException, OSError, asyncio.TimeoutError) as exc:
        await _close(client)
        rejected = tls.explain(exc, server)
        if rejected:
            raise SmtpError(rejected, False) from None
        if isinstance(exc.__cause__, ssl.SSLError) or type(exc) is E.SMTPException:
            # TLS that cannot work (wrong port or security), or STARTTLS not offered:
            # the config is wrong, retrying will not help.
            raise SmtpError("TLS with %s failed: %s" % (where, exc), False) from None
        raise SmtpError("cannot connect to %s: %s" % (where, exc), True) from None
    log.info("connected to %s", where)
    return client


async def _close(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit()
    except Exception:
        client.close()


def _refused_text(refused: dict) -> str:
    return "; ".join("%s: %d %s" % (rcpt, resp.code, resp.message) for rcpt, resp in refused.items())


async def _send_one(client, msg: Outgoing) -> SendResult:
    """One transaction. Connection trouble propagates (ConnectionError / timeout) for the caller."""
    try:
        refused, _ = await client.sendmail(msg.mail_from, list(msg.rcpts), msg.data)
    except E.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        text = "; ".join("%s: %d %s" % (r.recipient, r.code, r.message) for r in exc.recipients)
        # Temporary only if every refusal was temporary: a 5xx recipient will never take it.
        return SendResult(msg.key, False, all(400 <= c < 500 for c in codes), "all recipients refused: " + text)
    except E.SMTPServerDisconnected:
        raise
    except E.SMTPResponseException as exc:
        if exc.code == 421:  # the server is closing the connection
            raise E.SMTPServerDisconnected("%d %s" % (exc.code, exc.message)) from None
        return SendResult(msg.key, False, exc.code < 500, "%d %s" % (exc.code, exc.message))
    except ValueError as exc:  # an address that cannot be sent at all (e.g. not ASCII)
        # the transaction may be half open (MAIL FROM accepted): reset it, or the next message on this
        # connection would fail with "503 nested MAIL command"
        try:
            await client.rset()
        except E.SMTPException:
            raise E.SMTPServerDisconnected("could not reset after %s" % exc) from None
        return SendResult(msg.key, False, False, str(exc))
    if refused:
        return SendResult(msg.key, True, False, "refused: " + _refused_text(refused))
    return SendResult(msg.key, True, False, "")


_DROPPED = (E.SMTPServerDisconnected, E.SMTPTimeoutError, ConnectionError, OSError, asyncio.TimeoutError)


class _Results(list):
    """Results in order; each one is also handed to the caller's callback as soon as it is known."""

    def __init__(self, on_result):
        super().__init__()
        self.on_result = on_result

    def append(self, result: SendResult) -> None:
        super().append(result)
        if self.on_result is not None:
            self.on_result(result)

    def __iadd__(self, results):
        for r in results:
            self.append(r)
        return self


async def _send_batch(cfg, batch: list[Outgoing], on_result=None) -> list[SendResult]:
    results: list[SendResult] = _Results(on_result)
    reconnects_left = 1
    client = None
    i = 0
    try:
        while i < len(batch):
            msg = batch[i]
            if client is None:
                try:
                    client = await _connect(cfg)
                except SmtpError as exc:
                    # nothing was tried: every message stays queued, whatever is wrong with the server
                    (log.warning if exc.temporary else log.error)("%s; %d messages stay queued", exc,
                                                                  len(batch) - i)
                    results += [SendResult(m.key, False, exc.temporary, str(exc), held=True) for m in batch[i:]]
                    break
            try:
                result = await _send_one(client, msg)
            except _DROPPED as exc:
                client.close()
                client = None
                if reconnects_left:
                    reconnects_left -= 1
                    log.warning("connection dropped at message %s (%s); reconnecting once", msg.key, exc)
                    continue  # the same message again, on a new connection
                log.warning("connection dropped again at message %s: %s", msg.key, exc)
                text = "connection lost: %s" % (exc or type(exc).__name__)
                results += [SendResult(m.key, False, True, text) for m in batch[i:]]
                break
            if result.ok:
                log.info("sent %s to %d recipients%s", msg.key, len(msg.rcpts),
                         " (%s)" % result.error if result.error else "")
            else:
                log.warning("not sent %s (%s): %s", msg.key,
                            "temporary" if result.temporary else "permanent", result.error)
            results.append(result)
            i += 1
    finally:
        if client is not None:
            await _close(client)
    return results


def send_batch(cfg, batch: list[Outgoing], on_result=None) -> list[SendResult]:
    """Send every message over one connection; one SendResult per message, in order. `on_result(result)`,
    when given, is called as each message's fate is known, so the caller can record it at once (a crash
    mid-batch then re-sends at most the message in flight)."""
    if not batch:
        return []
    return list(asyncio.run(_send_batch(cfg, list(batch), on_result)))


def check_login(cfg) -> str:
    """For `officeflow check-config`: connect (and log in when configured), then quit."""

    async def run() -> str:
        client = await _connect(cfg)
        await _close(client)
        return "ok: %s %s:%s" % ("logged in as %s at" % cfg.username if cfg.username else "connected to",
                                 cfg.host, cfg.port)

    return asyncio.run(run())
