"""TLS for IMAP and SMTP: one verifying context per server, and certificate failures said plainly; opens no connection."""

from __future__ import annotations

import ipaddress
import ssl

# OpenSSL's verify codes (X509_V_ERR_*) that an admin can act on, in words that say what to do.
_REASONS = {
    9: "the certificate is not valid yet (check the clock of this machine and of the server)",
    10: "the certificate has expired (the server's certificate must be renewed)",
    18: "the certificate is self-signed and not trusted (give its CA in ca_file)",
    19: "the certificate chain ends in a CA that is not trusted (give that CA in ca_file)",
    20: "the certificate was issued by a CA that is not trusted (give that CA in ca_file)",
    21: "the certificate was issued by a CA that is not trusted (give that CA in ca_file)",
    62: "the certificate is not issued for this host name (use the name the certificate was issued for)",
    64: "the certificate is not issued for this IP address (use the name the certificate was issued for)",
}


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: traffic that never leaves this machine."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def context(ca_file: str | None = "") -> ssl.SSLContext:
    """The system's trusted CAs (plus ca_file's, when given), with certificate and host name checks on."""
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(cafile=str(ca_file))
    return ctx


def explain(exc: BaseException, what: str) -> str | None:
    """For a failed certificate check anywhere in exc's chain: "<what>: certificate rejected: <why>"; else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = _REASONS.get(exc.verify_code, "the certificate could not be verified")
            detail = exc.verify_message or exc.reason or str(exc)
            return "%s: certificate rejected: %s [%s]" % (what, reason, detail)
        exc = exc.__cause__ or exc.__context__
    return None
