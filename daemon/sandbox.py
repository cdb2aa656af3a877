"""`officeflow sandbox`: a loopback IMAP (pymap) + SMTP (aiosmtpd) mail server with the daemon on it; it never relays mail off this machine."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import logging
import re
import signal
import smtplib
import sys
import threading
import warnings
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formataddr, format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

# pymap is pinned in pyproject.toml: the dict backend has no public call to add a user
# (that is the gRPC admin service, an extra we do not install), so users are created
# with the backend's Identity objects. Everything else goes through pymap's interfaces.
from pymap.backend.dict import DictBackend, Identity
from pymap.concurrent import Subsystem
from pymap.imap import IMAPServer, IMAPService
from pymap.parsing.message import AppendMessage
from pymap.user import Passwords, UserMetadata
from proxyprotocol.reader import ProxyProtocolReader
from pysasl.hashing import Cleartext
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from daemon.resources import resource_dir

log = logging.getLogger("officeflow.sandbox")

PASSWORD = "officeflow"
HOST = "127.0.0.1"
DEFAULT_CONFIG = resource_dir("config") / "officeflow.example.toml"


# ---------------------------------------------------------------- who has a mailbox

def mailboxes(cfg) -> dict[str, str]:
    """Every full address in the config → its role(s), in a stable, readable order."""
    roles: dict[str, list[str]] = {}

    def add(address: str | None, role: str) -> None:
        if address and not address.startswith("@"):
            roles.setdefault(address.strip().lower(), []).append(role)

    add(cfg.office.address, "办公室收文邮箱 office mailbox (officeflow reads it)")
    if cfg.imap.username.lower() != cfg.office.address.lower():
        add(cfg.imap.username, "officeflow 的 IMAP 登录 (IMAP login of the daemon)")
    for staff in cfg.office.staff:
        add(staff, "办公室工作人员 office staff")
    add(cfg.office.head, "办公室主任 office head")
    for p in cfg.people:
        add(p.email, f"{p.name} ({p.id}) " + ("领导 leader: approves, may 交办" if p.leader else "approver / department"))
    for u in cfg.units:
        for e in u.emails:
            add(e, f"{u.name} ({u.id}) unit")
    return {address: "；".join(r) for address, r in roles.items()}


def sandbox_config(cfg, directory: Path, imap_port: int, smtp_port: int):
    """The config pointed at the sandbox servers, with its database and archive under *directory*."""
    from daemon.config import ArchiveConfig, DatabaseConfig

    directory = Path(directory).resolve()
    return dataclasses.replace(
        cfg,
        imap=dataclasses.replace(cfg.imap, host=HOST, port=imap_port, security="none", password=PASSWORD),
        smtp=dataclasses.replace(cfg.smtp, host=HOST, port=smtp_port, security="none",
                                 username=None, password=None),
        database=DatabaseConfig(url=f"sqlite:///{directory}/officeflow.db"),
        archive=ArchiveConfig(path=directory / "archive"),
    )


# ---------------------------------------------------------------- the mail servers

class MailSandbox:
    """pymap (IMAP, in memory) and aiosmtpd (SMTP) on one asyncio loop in a background thread.

    Every address in *addresses* is a mailbox whose password is *password*; SMTP
    delivers into those mailboxes and refuses every other recipient. Port 0 picks a
    free port; the real ports are in imap_port / smtp_port after start().
    """

    def __init__(self, addresses: Iterable[str], *, password: str = PASSWORD, host: str = HOST,
                 imap_port: int = 0, smtp_port: int = 0,
                 folders: Mapping[str, Iterable[str]] | None = None) -> None:
        self.addresses = tuple(dict.fromkeys(a.strip().lower() for a in addresses))
        self.password = password
        self.host = host
        self.imap_port = imap_port
        self.smtp_port = smtp_port
        self._folders = {k.lower(): tuple(v) for k, v in (folders or {}).items()}
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._identities: dict[str, Identity] = {}

    def start(self, timeout: float = 15) -> MailSandbox:
        self._thread = threading.Thread(target=self._run, name="officeflow-sandbox-mail", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError("the sandbox mail servers did not start")
        if self._error is not None:
            self._thread.join(5)
            raise self._error
        return self

    def stop(self, timeout: float = 10) -> None:
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stopping.set)
            except RuntimeError:  # the loop closed in the meantime
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> MailSandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); after start it is only logged
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                log.exception("sandbox mail servers failed")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        backend, config = await DictBackend.init(
            _pymap_args(self.host, self.imap_port, self.addresses[0], self.password),
            hash_context=Cleartext(),                # a sandbox with a published password
            cpu_subsystem=Subsystem.for_asyncio(),    # no thread pool left behind at stop
            invalid_user_sleep=0.1)
        config.apply_context()
        async with AsyncExitStack() as stack:
            hashed = await Passwords(config).hash_password(self.password)
            for address in self.addresses:
                identity = Identity(address, backend.login, None, frozenset())
                if address != self.addresses[0]:      # the first one is pymap's "demo user"
                    await identity.set(UserMetadata(config, address, password=hashed))
                self._identities[address] = identity
                for folder in self._folders.get(address, ()):
                    async with identity.new_session() as session:
                        await session.create_mailbox(folder)

            imap_cb = ProxyProtocolReader(config.proxy_protocol).get_callback(IMAPServer(backend.login, config))
            imap = await asyncio.start_server(imap_cb, host=self.host, port=self.imap_port)
            await stack.enter_async_context(imap)
            self.imap_port = imap.sockets[0].getsockname()[1]

            handler = _Delivery(self)
            smtp = await self._loop.create_server(
                lambda: SMTP(handler, hostname="officeflow-sandbox", ident="officeflow sandbox",
                             authenticator=self._authenticate, auth_require_tls=False),
                host=self.host, port=self.smtp_port)
            await stack.enter_async_context(smtp)
            self.smtp_port = smtp.sockets[0].getsockname()[1]

            self._ready.set()
            await self._stopping.wait()
        # asyncio.run() then cancels the connections still open.

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        """SMTP AUTH is optional; when a client insists on it, the mailbox password works."""
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode("utf-8", "replace").lower() in self._identities
              and auth_data.password == self.password.encode())
        return AuthResult(success=ok, handled=False)

    async def deliver(self, rcpt: str, data: bytes) -> None:
        async with self._identities[rcpt.lower()].new_session() as session:
            await session.append_messages("INBOX", [AppendMessage(data, datetime.now(timezone.utc))])


class _Delivery:
    """aiosmtpd handler: accept only sandbox mailboxes, store straight into their INBOX."""

    def __init__(self, sandbox: MailSandbox) -> None:
        self.sandbox = sandbox

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() not in self.sandbox.addresses:
            return f"550 5.1.1 <{address}>: no such mailbox in the officeflow sandbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        for rcpt in envelope.rcpt_tos:
            trace = f"Return-Path: <{envelope.mail_from}>\r\nDelivered-To: {rcpt}\r\n".encode()
            await self.sandbox.deliver(rcpt, trace + data)
        log.info("delivered mail from %s to %s", envelope.mail_from, ", ".join(envelope.rcpt_tos))
        return "250 OK delivered"


def _pymap_args(host: str, port: int, demo_user: str, password: str) -> argparse.Namespace:
    """Arguments as pymap's own command line would give them, built from its public plugin hooks."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--debug", action="store_true")
    parser.set_defaults(passlib_cfg=None)
    IMAPService.add_arguments(parser)
    DictBackend.add_subparser("dict", parser.add_subparsers(dest="backend"))
    return parser.parse_args(["--host", host, "--port", str(port), "--no-tls",
                              "dict", "--demo-user", demo_user, "--demo-password", password])


# ---------------------------------------------------------------- the sample 请示

def sample_request(cfg, now: datetime | None = None) -> EmailMessage:
    """A realistic 请示 from the first unit to the office, with a .docx 清单 attached."""
    import docx

    unit = cfg.units[0]
    sender = next(e for e in unit.emails if not e.startswith("@"))
    now = now or datetime.now(ZoneInfo(cfg.office.timezone))
    today = f"{now.year}年{now.month}月{now.day}日"
    title = "关于购置办公设备的请示"
    items = [("台式计算机", "10台", "5,000", "50,000"), ("激光打印机", "2台", "3,500", "7,000"),
             ("投影仪", "1台", "6,000", "6,000"), ("碎纸机", "2台", "1,200", "2,400")]
    total = "65,400"
    body = (f"{cfg.office.name}：\n\n"
            f"    因业务拓展，我公司今年新增员工12人，现有办公电脑、打印机已不能满足日常工作需要，"
            f"部分设备使用已超过八年，故障频繁，影响工作效率。为保障各项工作正常开展，"
            f"拟购置台式计算机10台、激光打印机2台、投影仪1台、碎纸机2台，预算合计人民币{total}元，"
            f"所需资金从我公司年度办公经费中列支。具体品名、数量及预算见附件。\n\n"
            f"    妥否，请批示。\n\n"
            f"附件：办公设备购置清单\n\n"
            f"{unit.name}\n{today}\n\n"
            f"（联系人：张明，电话：010-12345678）\n")

    doc = docx.Document()
    doc.add_heading("办公设备购置清单", level=1)
    table = doc.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("品名", "数量", "单价（元）", "金额（元）")):
        cell.text = text
    for row in items + [("合计", "", "", total)]:
        for cell, text in zip(table.add_row().cells, row):
            cell.text = text
    doc.add_paragraph(f"{unit.name}　{today}")
    buf = io.BytesIO()
    doc.save(buf)

    msg = EmailMessage()
    msg["From"] = formataddr((unit.name, sender))
    msg["To"] = formataddr((cfg.office.name, cfg.office.address))
    msg["Subject"] = title
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    msg.set_content(body)
    msg.add_attachment(buf.getvalue(), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                       filename="办公设备购置清单.docx")
    return msg


# ---------------------------------------------------------------- the sample 交办

def sample_jiaoban(cfg, now: datetime | None = None) -> EmailMessage:
    """A 交办 as a leader writes one: the first leader of the config asks two departments for a report."""
    leader = cfg.leaders[0]
    helpers = {p.delegate for p in cfg.people if p.delegate}
    doers = [p.name for p in cfg.people if not p.leader and p.id not in helpers] + [u.name for u in cfg.units]
    lead, co = (doers + ["办公室", ""])[:2]
    now = now or datetime.now(ZoneInfo(cfg.office.timezone))
    body = (f"请{lead}牵头" + (f"，{co}配合" if co else "") + "，5个工作日内报送今年办公经费使用情况的自查报告，"
            "重点说明超预算支出的项目和原因，提出明年压减的意见，不超过三页。\n\n"
            f"{leader.name}\n")
    msg = EmailMessage()
    msg["From"] = formataddr((leader.name, leader.email))
    msg["To"] = formataddr((cfg.office.name, cfg.office.address))
    msg["Subject"] = "交办：办公经费使用情况自查"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=leader.email.rpartition("@")[2])
    msg.set_content(body)
    return msg


SAMPLES = {"请示": sample_request, "交办": sample_jiaoban}


def send_sample(cfg, port: int, host: str = HOST, kind: str = "请示") -> EmailMessage:
    msg = SAMPLES[kind](cfg)
    with smtplib.SMTP(host, port, timeout=15) as smtp:
        smtp.send_message(msg)
    return msg


# ---------------------------------------------------------------- the command

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="officeflow sandbox",
        description="A local mail server (IMAP + SMTP on 127.0.0.1, mail kept in memory) with officeflow "
                    "running on it, for trying officeflow with any mail client.")
    p.add_argument("--config", "-c", type=Path, default=DEFAULT_CONFIG,
                   help="config whose addresses become mailboxes (default: the example config)")
    p.add_argument("--dir", type=Path, default=Path("officeflow-sandbox"),
                   help="where the daemon keeps its database and archive (default: ./officeflow-sandbox)")
    p.add_argument("--imap-port", type=int, default=1143, help="IMAP port on 127.0.0.1 (default 1143; 0: any free)")
    p.add_argument("--smtp-port", type=int, default=1025, help="SMTP port on 127.0.0.1 (default 1025; 0: any free)")
    p.add_argument("--send-sample", nargs="?", const="请示", choices=tuple(SAMPLES), metavar="请示|交办",
                   help="mail a sample 请示 (from a unit) or 交办 (from a leader) to a running sandbox, then exit")
    p.add_argument("--no-daemon", action="store_true", help="run only the mail servers")
    p.add_argument("--advance", metavar="DURATION",
                   help="move a running sandbox's clock forward, e.g. 4h or 2d (calendar time), to see "
                        "reminders and digests; then exit")
    return p


def _banner(cfg, boxes: Mapping[str, str], sandbox: MailSandbox, directory: Path, config_path: Path,
            daemon_runs: bool) -> str:
    width = max(len(a) for a in boxes) + 2
    unit = cfg.units[0] if cfg.units else None
    sample_cmd = "officeflow sandbox --send-sample"
    if config_path.resolve() != DEFAULT_CONFIG:
        sample_cmd += f" --config {config_path}"
    if sandbox.smtp_port != 1025:
        sample_cmd += f" --smtp-port {sandbox.smtp_port}"
    lines = [
        "",
        "officeflow 沙盒 (sandbox): 本机邮件服务器，只监听 127.0.0.1，邮件只存在内存里 (mail is kept in memory)",
        f"  IMAP  {sandbox.host}:{sandbox.imap_port}   无加密 (no TLS), 普通密码登录 (plain login)",
        f"  SMTP  {sandbox.host}:{sandbox.smtp_port}   无加密 (no TLS), 无需认证 (no authentication needed)",
        f"  officeflow 数据 (database, archive): {directory}",
        f"  配置 (config): {config_path}",
        "",
        f"邮箱 (mailboxes) — 用户名是完整地址 (username = full address)，密码 (password) 都是 \"{sandbox.password}\":",
    ]
    lines += [f"  {a.ljust(width)}{role}" for a, role in boxes.items()]
    lines += [
        "  发往其他地址的邮件会被拒收 (mail to any other address is refused).",
        "",
        "邮件客户端设置 (mail client, e.g. Thunderbird → 手动配置 / manual config):",
        f"  收件 IMAP: 服务器 {sandbox.host}  端口 {sandbox.imap_port}  连接安全 无 (None)  认证 普通密码 (normal password)",
        f"  发件 SMTP: 服务器 {sandbox.host}  端口 {sandbox.smtp_port}  连接安全 无 (None)  认证 无 (No authentication)",
        "  每个想扮演的角色各添加一个账户 (add one account per role you want to play).",
        "",
        "发送示例请示 (send a sample 请示) — 在另一个终端 (in another terminal):",
        f"  {sample_cmd}",
    ]
    if unit is not None:
        lines.append(f"  → {unit.name} 把《关于购置办公设备的请示》发给 {cfg.office.address}；"
                     f"{', '.join(cfg.office.staff)} 随后收到审核邮件，回复“受理”或“退回：…”。")
    if cfg.leaders:
        lines += ["", "发送示例交办 (send a sample 交办 from a leader):",
                  "  " + sample_cmd.replace("--send-sample", "--send-sample 交办"),
                  f"  → {cfg.leaders[0].name} 把“交办：办公经费使用情况自查”发给 {cfg.office.address}；"
                  f"{', '.join(cfg.office.staff)} 随后收到“请核定”，回复“派发”（可改写时限、承办等要素）。"]
    lines += [
        "",
        ("officeflow 正在运行 (the daemon is running). " if daemon_runs else
         "只运行邮件服务器 (mail servers only, --no-daemon). ") + "按 Ctrl-C 停止 (press Ctrl-C to stop).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("pymap", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # aiosmtpd 1.4 warns about its own use of a deprecated attribute on every SMTP AUTH.
    warnings.filterwarnings("ignore", message="Session.login_data is deprecated")

    from daemon.config import ConfigError, load_config
    try:
        cfg = load_config(args.config, need_secrets=False)
    except ConfigError as exc:
        print(f"officeflow sandbox: {exc}", file=sys.stderr)
        return 2

    if args.advance:
        return _advance(args.dir.resolve(), args.advance)

    if args.send_sample:
        if args.send_sample == "交办" and not cfg.leaders:
            print("officeflow sandbox: no person in the config has leader = true: nobody may 交办", file=sys.stderr)
            return 2
        try:
            msg = send_sample(cfg, args.smtp_port, kind=args.send_sample)
        except (OSError, smtplib.SMTPException) as exc:
            print(f"officeflow sandbox: cannot send the sample to {HOST}:{args.smtp_port}: {exc}\n"
                  f"  Is `officeflow sandbox` running (with the same --smtp-port)?", file=sys.stderr)
            return 1
        print(f"已发送 (sent): 《{msg['Subject']}》 {msg['From']} → {msg['To']}")
        return 0

    boxes = mailboxes(cfg)
    sandbox = MailSandbox(boxes, imap_port=args.imap_port, smtp_port=args.smtp_port,
                          folders={cfg.imap.username: (cfg.imap.processed_folder, cfg.imap.failed_folder)})
    try:
        sandbox.start()
    except OSError as exc:
        print(f"officeflow sandbox: cannot listen on {HOST} (IMAP port {args.imap_port}, SMTP port "
              f"{args.smtp_port}): {exc.strerror or exc}\n  Choose others with --imap-port / --smtp-port.",
              file=sys.stderr)
        return 1

    stop = threading.Event()
    previous = _install_signal_handlers(stop)
    try:
        # mail lives in memory only, so every start gets a fresh database beside the earlier ones
        top = args.dir.resolve()
        directory = top / datetime.now().strftime("run-%Y%m%d-%H%M%S")
        (directory / "archive").mkdir(parents=True, exist_ok=True)
        clock_file = top / CLOCK_FILE
        clock_file.unlink(missing_ok=True)
        from daemon import clock
        clock.use_offset_file(clock_file)
        run_cfg = sandbox_config(cfg, directory, sandbox.imap_port, sandbox.smtp_port)
        print(_banner(cfg, boxes, sandbox, directory, args.config, not args.no_daemon), flush=True)
        if args.no_daemon:
            while not stop.wait(0.5):
                pass
            return 0
        from daemon import service
        return service.run(run_cfg, stop=stop)
    finally:
        stop.set()
        _restore_signal_handlers(previous)
        sandbox.stop()
        print("officeflow sandbox: stopped", flush=True)


CLOCK_FILE = "clock-offset"


def _advance(top: Path, text: str) -> int:
    """`--advance 2d`: the running sandbox's clock (real time plus an offset kept in a file) moves forward."""
    from daemon import clock
    m = re.fullmatch(r"\s*(\d+)\s*([mhd])\s*", text)
    if not m:
        print(f"officeflow sandbox: --advance takes a duration like 30m, 4h or 2d, not {text!r}", file=sys.stderr)
        return 2
    unit = {"m": "minutes", "h": "hours", "d": "days"}[m[2]]
    step = timedelta(**{unit: int(m[1])})
    path = top / CLOCK_FILE
    total = clock.read_offset(path) + step
    top.mkdir(parents=True, exist_ok=True)
    path.write_text(str(total.total_seconds()))
    clock.use_offset_file(path)
    hours, minutes = divmod(int(total.total_seconds()) // 60, 60)
    print(f"沙盒时钟已拨快 {text}（累计 {hours // 24}天{hours % 24}小时{minutes}分钟），现在是 {clock.now().astimezone():%Y-%m-%d %H:%M}。"
          f"催办和汇总将在半分钟内按新时间处理。")
    return 0


def _install_signal_handlers(stop: threading.Event) -> dict:
    """Ctrl-C / SIGTERM set *stop*; a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        print("\nofficeflow sandbox: stopping …", flush=True)
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(previous: dict) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)
