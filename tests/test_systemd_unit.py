"""systemd/officeflow.service: required settings, a comment on every setting, and `systemd-analyze verify`."""

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "officeflow.service"
EXAMPLE = ROOT / "config" / "officeflow.example.toml"
CREDENTIALS = "/run/credentials/officeflow.service/"


class _Repeatable(dict):
    """configparser dict that keeps every value of a repeated key (systemd allows repeats),
    joined by newlines, instead of the last one only."""

    def __setitem__(self, key, value):
        if isinstance(value, list) and isinstance(self.get(key), list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


@pytest.fixture(scope="module")
def unit():
    parser = configparser.ConfigParser(strict=False, interpolation=None, dict_type=_Repeatable,
                                       comment_prefixes=("#", ";"), empty_lines_in_values=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def values(unit, section, key):
    return unit[section][key].split("\n")


def test_it_is_a_notify_service_with_watchdog_and_restart(unit):
    s = unit["Service"]
    assert s["Type"] == "notify"
    assert s["NotifyAccess"] == "main"
    assert s["ExecStart"] == "/usr/local/bin/officeflow run -c /etc/officeflow/officeflow.toml"
    assert re.fullmatch(r"\d+(s|min)", s["WatchdogSec"])
    assert s["Restart"] == "on-failure"
    assert re.fullmatch(r"\d+(s|min)", s["RestartSec"])
    assert re.fullmatch(r"\d+(s|min)", s["TimeoutStopSec"])


def test_it_starts_after_the_network_and_at_boot(unit):
    assert "network-online.target" in values(unit, "Unit", "After")
    assert unit["Unit"]["Wants"] == "network-online.target"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_it_runs_unprivileged_with_a_state_directory(unit):
    s = unit["Service"]
    assert s.get("DynamicUser") == "yes" or s.get("User") not in (None, "", "root")
    assert s["StateDirectory"] == "officeflow"
    assert s["CapabilityBoundingSet"] == ""


def test_passwords_come_as_credentials_at_the_documented_paths(unit):
    creds = dict(v.split(":", 1) for v in values(unit, "Service", "LoadCredential"))
    assert set(creds) == {"imap", "smtp"}
    assert all(path.startswith("/etc/officeflow/") for path in creds.values())
    text = UNIT.read_text(encoding="utf-8")
    for name in creds:
        assert f'password_file = "{CREDENTIALS}{name}"' in text
    assert f"{CREDENTIALS}imap" in EXAMPLE.read_text(encoding="utf-8")


@pytest.mark.parametrize("key, expected", [
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("NoNewPrivileges", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("RestrictNamespaces", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    ("SystemCallArchitectures", "native"),
])
def test_the_sandbox_is_hardened(unit, key, expected):
    assert unit["Service"][key] == expected


def test_network_and_system_calls_are_restricted(unit):
    assert set(unit["Service"]["RestrictAddressFamilies"].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    filters = values(unit, "Service", "SystemCallFilter")
    assert filters[0] == "@system-service"
    assert all(f.startswith("~") for f in filters[1:])


def test_every_setting_is_commented():
    """Each run of settings is directly preceded by a comment line saying what it does."""
    uncommented = []
    previous = ""
    for number, line in enumerate(UNIT.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        is_setting = bool(line) and not line.startswith(("#", ";", "["))
        if is_setting and not (previous.startswith("#") or previous == "setting"):
            uncommented.append(f"line {number}: {line}")
        previous = "setting" if is_setting else line
    assert uncommented == []


def _verify(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)


def test_systemd_analyze_verify_accepts_it(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    probe = tmp_path / "probe" / "officeflow-probe.service"
    probe.parent.mkdir()
    probe.write_text(f"[Service]\nType=oneshot\nExecStart={sys.executable} -c pass\n")
    try:
        ok = _verify(probe)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"systemd-analyze verify does not run here: {exc}")
    if ok.returncode != 0 or ok.stderr.strip():
        pytest.skip(f"systemd-analyze verify does not work here even on a trivial unit: "
                    f"{(ok.stderr or ok.stdout).strip()[:300]}")
    # verify insists that ExecStart's program exists; officeflow need not be installed here.
    copy = tmp_path / "officeflow.service"
    copy.write_text(UNIT.read_text(encoding="utf-8").replace("/usr/local/bin/officeflow", sys.executable),
                    encoding="utf-8")
    result = _verify(copy)
    # Unknown keys and bad values are only warnings (exit 0), so the output must be clean too.
    complaints = [line for line in (result.stderr + result.stdout).splitlines() if "officeflow.service" in line]
    assert result.returncode == 0, result.stderr
    assert complaints == []


def test_reload_sends_sighup_to_the_daemon(unit):
    assert unit["Service"]["ExecReload"] == "/bin/kill -HUP $MAINPID"
