"""A private Cyrus IMAP (Debian's packages) on loopback, in place of Dovecot behind the same SMTP relay.

Configured as Debian ships it where it differs from Dovecot: folders live below INBOX with "." as the
separator (altnamespace and unixhierarchysep off). One setting is changed, as README tells admins to:
munge8bit off, or Cyrus turns every raw 8-bit header character (a UTF-8 or GBK subject) into "X". Logins take any password (the tests are not about
Cyrus' authentication); mailboxes are made on first delivery or login.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from mailservers import MailServers

REPO = Path(__file__).resolve().parents[1]
BIN = Path("/usr/lib/cyrus/bin")

_IMAPD_CONF = """\
configdirectory: {root}/config
partition-default: {root}/spool
defaultpartition: default
sievedir: {root}/sieve
proc_path: {root}/run/proc
mboxname_lockpath: {root}/run/lock
lmtpsocket: {root}/run/lmtp
idlesocket: {root}/run/idle
notifysocket: {root}/run/notify
altnamespace: no
unixhierarchysep: no
virtdomains: userid
allowplaintext: yes
sasl_pwcheck_method: alwaystrue
sasl_mech_list: PLAIN LOGIN
autocreate_quota: 0
autocreate_post: 1
lmtp_downcase_rcpt: yes
munge8bit: no
imapidlepoll: 1
admins: cyrus
syslog_prefix: {instance}
"""

_CYRUS_CONF = """\
START {{
  recover cmd="{bin}/ctl_cyrusdb -r -C {conf}"
}}
SERVICES {{
  imap cmd="{imapd} -C {conf}" listen="127.0.0.1:{imap_port}" prefork=0
  lmtp cmd="{bin}/lmtpd -a -C {conf}" listen="127.0.0.1:{lmtp_port}" prefork=0
}}
EVENTS {{
}}
"""


def imapd_binary() -> Path | None:
    """Cyrus' imapd: installed (cyrus-imapd), or unpacked from its .deb by scripts/test.sh (the package
    conflicts with dovecot-imapd, so both cannot be installed at once)."""
    for path in (os.environ.get("OFFICEFLOW_CYRUS_IMAPD"), BIN / "imapd",
                 REPO / ".cache" / "cyrus-imapd" / "usr" / "lib" / "cyrus" / "bin" / "imapd"):
        if path and Path(path).is_file() and (BIN / "master").is_file():
            return Path(path)
    return None


class CyrusServers(MailServers):
    """MailServers with Cyrus IMAP (and its LMTP) instead of Dovecot; same relay, same helpers."""

    folder_prefix = "INBOX."

    def _write_conf(self) -> None:
        root = self.root
        for sub in ("config", "spool", "sieve", "run"):
            (root / sub).mkdir(exist_ok=True)
        names = dict(root=root, conf=root / "etc" / "imapd.conf", bin=BIN, imapd=imapd_binary(),
                     instance="ofcy-%d-%s" % (os.getpid(), root.name),
                     imap_port=self.imap_port, lmtp_port=self.lmtp_port)
        (root / "etc" / "imapd.conf").write_text(_IMAPD_CONF.format(**names))
        (root / "etc" / "cyrus.conf").write_text(_CYRUS_CONF.format(**names))
        if os.geteuid() == 0:                  # master drops to the cyrus user
            cyrus = pwd.getpwnam("cyrus")
            for sub in ("config", "spool", "sieve", "run", "log"):
                os.chown(root / sub, cyrus.pw_uid, cyrus.pw_gid)

    _logs = ("stderr.log", "master.log")

    def _server_command(self) -> list[str]:
        root = self.root
        return [str(BIN / "master"), "-C", str(root / "etc" / "imapd.conf"), "-M", str(root / "etc" / "cyrus.conf"),
                "-p", str(root / "run" / "master.pid"), "-L", str(root / "log" / "master.log")]
