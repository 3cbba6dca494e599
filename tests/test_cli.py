"""The `evcms` command: admin commands work; errors are one line, non-zero, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def evcms(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "EVCMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "evcms.cli", *args],
        capture_output=True, text=True, env=environment, timeout=120, check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("evcms: error:")
    assert needle in lines[0]


def test_admin_commands_round_trip(tmp_path):
    assert evcms(tmp_path, "db", "upgrade").returncode == 0
    added = evcms(tmp_path, "station", "add", "CP-1", "--generate-password")
    assert added.returncode == 0, added.stderr
    assert "Basic auth: user CP-1, password " in added.stdout
    listed = evcms(tmp_path, "station", "list")
    assert "CP-1" in listed.stdout and "Accepted" in listed.stdout
    key = evcms(tmp_path, "apikey", "create", "--role", "viewer")
    assert key.returncode == 0 and key.stdout.startswith("evk_")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("station", "add", "bad id"), "may only contain"),
        (("station", "add", "CP-2", "--password", "short"), "16-40 characters"),
        (("station", "add", "CP-3", "--site", "nowhere"), "does not exist"),
        (("apikey", "create", "--role", "king"), "unknown role"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, args, needle):
    evcms(tmp_path, "db", "upgrade")
    assert_one_line_error(evcms(tmp_path, *args), needle)


def test_duplicate_station(tmp_path):
    evcms(tmp_path, "db", "upgrade")
    evcms(tmp_path, "station", "add", "CP-1")
    assert_one_line_error(evcms(tmp_path, "station", "add", "CP-1"), "CP-1")


def test_invalid_setting(tmp_path):
    result = evcms(tmp_path, "station", "list", EVCMS_HTTP_PORT="eighty")
    assert_one_line_error(result, "EVCMS_HTTP_PORT")


def test_empty_database_says_to_upgrade(tmp_path):
    assert_one_line_error(evcms(tmp_path, "station", "list"), "run `evcms db upgrade`")


def test_unreachable_database(tmp_path):
    result = evcms(
        tmp_path, "station", "list",
        EVCMS_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none",
    )
    assert_one_line_error(result, "127.0.0.1")


def test_drivers_tokens_and_sessions(tmp_path):
    assert evcms(tmp_path, "db", "upgrade").returncode == 0
    added = evcms(tmp_path, "driver", "add", "Ana@Example.com", "--name", "Ana")
    assert added.returncode == 0, added.stderr
    assert "driver ana@example.com added" in added.stdout and "password: " in added.stdout
    token = evcms(
        tmp_path, "token", "add", "04A2B3C4", "--driver", "ana@example.com",
        "--expires", "2030-01-01T00:00:00Z", "--max-concurrent", "2",
    )
    assert token.returncode == 0, token.stderr
    listed = evcms(tmp_path, "token", "list", "--driver", "ana@example.com")
    assert "04A2B3C4" in listed.stdout and "2030-01-01T00:00:00Z" in listed.stdout
    assert evcms(tmp_path, "session", "list", "--active").stdout.strip() == "no sessions"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("token", "add", "X1", "--driver", "nobody@example.com"), "no driver"),
        (("token", "add", "X2", "--expires", "2030-01-01T00:00:00"), "time zone"),
        (("token", "add", "X3", "--type", "Barcode"), "unknown token type"),
        (("token", "add", "X4", "--max-concurrent", "-1"), "max_concurrent"),
        (("driver", "add", "not-an-email"), "e-mail"),
    ],
)
def test_token_and_driver_errors_are_one_line(tmp_path, args, needle):
    evcms(tmp_path, "db", "upgrade")
    assert_one_line_error(evcms(tmp_path, *args), needle)


def _tariffs_wired() -> bool:
    from evcms.bootstrap import AdminContext

    return "tariffs" in AdminContext.__dataclass_fields__


needs_tariff_wiring = pytest.mark.skipif(
    not _tariffs_wired(), reason="bootstrap.admin() does not build TariffAdmin yet"
)
TARIFF = (
    '{"id": "T-1", "currency": "EUR", "elements": [{"price_components": '
    '[{"type": "ENERGY", "price": 0.25, "vat": 20, "step_size": 1}]}]}'
)


@needs_tariff_wiring
def test_tariff_import_and_list(tmp_path):
    evcms(tmp_path, "db", "upgrade")
    evcms(tmp_path, "station", "add", "CP-1")
    path = tmp_path / "t1.json"
    path.write_text(TARIFF)
    first = evcms(tmp_path, "tariff", "import", str(path), "--default")
    assert first.returncode == 0, first.stderr
    assert "tariff T-1 version 1 imported" in first.stdout and "the default" in first.stdout
    second = evcms(tmp_path, "tariff", "import", str(path), "--station", "CP-1")
    assert "tariff T-1 version 2 imported" in second.stdout
    assert "station CP-1" in second.stdout
    listed = evcms(tmp_path, "tariff", "list")
    assert listed.returncode == 0 and "T-1" in listed.stdout and " 2 " in listed.stdout


@needs_tariff_wiring
@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        (None, (), "no such file"),
        ("{nope", (), "not valid JSON"),
        ('{"id": "x", "currency": "EUR", "elements": []}', (), "elements: required"),
        (TARIFF, ("--station", "CP-9"), "station 'CP-9' does not exist"),
        (TARIFF, ("--site", "a", "--default"), "at most one of"),
    ],
)
def test_tariff_import_errors_are_one_line(tmp_path, content, args, needle):
    evcms(tmp_path, "db", "upgrade")
    path = tmp_path / "tariff.json"
    if content is not None:
        path.write_text(content)
    assert_one_line_error(evcms(tmp_path, "tariff", "import", str(path), *args), needle)


def test_wallets_plans_and_invoices(tmp_path):
    evcms(tmp_path, "db", "upgrade")
    assert evcms(tmp_path, "driver", "add", "dana@example.com", "--name", "Dana").returncode == 0
    booked = evcms(tmp_path, "wallet", "top-up", "dana@example.com", "20.00", "--key", "bank-77")
    assert booked.returncode == 0, booked.stderr
    assert "balance 20.00 EUR" in booked.stdout
    again = evcms(tmp_path, "wallet", "top-up", "dana@example.com", "20.00", "--key", "bank-77")
    assert "balance 20.00 EUR" in again.stdout  # the same key books once
    shown = evcms(tmp_path, "wallet", "show", "dana@example.com")
    assert "balance 20.00 EUR" in shown.stdout and "top_up" in shown.stdout
    plan = evcms(tmp_path, "plan", "add", "Commuter", "--fee", "10.00", "--included-kwh", "50")
    assert plan.returncode == 0, plan.stderr
    assert "Commuter" in evcms(tmp_path, "plan", "list").stdout
    assert evcms(tmp_path, "invoice", "list").stdout.strip() == "no invoices"
    assert "settled 0 session(s)" in evcms(tmp_path, "billing", "settle").stdout
    assert "issued 0 invoice(s)" in evcms(tmp_path, "billing", "invoice-month", "2026-01").stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("wallet", "top-up", "dana@example.com", "lots"), "like 20.00"),
        (("wallet", "top-up", "dana@example.com", "0"), "more than 0"),
        (("wallet", "top-up", "nobody@example.com", "5"), "no driver"),
        (("billing", "invoice-month", "November"), "2026-10"),
        (("billing", "invoice-month", "2999-01"), "has not ended"),
        (("invoice", "pdf", "no-such-invoice", "out.pdf"), "no invoice no-such-invoice"),
    ],
)
def test_billing_errors_are_one_line(tmp_path, args, needle):
    evcms(tmp_path, "db", "upgrade")
    evcms(tmp_path, "driver", "add", "dana@example.com")
    assert_one_line_error(evcms(tmp_path, *args), needle)


def test_operator_accounts(tmp_path):
    evcms(tmp_path, "db", "upgrade")
    added = evcms(tmp_path, "user", "add", "Ops@Example.com", "--role", "technician", "--name", "Ops")
    assert added.returncode == 0, added.stderr
    assert "operator ops@example.com added with role technician" in added.stdout
    assert "password: " in added.stdout  # generated, shown once
    changed = evcms(tmp_path, "user", "set", "ops@example.com", "--role", "operator", "--disable")
    assert changed.returncode == 0, changed.stderr
    assert "role operator, disabled" in changed.stdout
    listed = evcms(tmp_path, "user", "list")
    assert "ops@example.com\toperator\tdisabled\tlast sign-in never\tOps" in listed.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("user", "add", "a@example.com", "--role", "king"), "unknown role"),
        (("user", "add", "not-an-email", "--role", "viewer"), "e-mail"),
        (("user", "add", "b@example.com", "--role", "viewer", "--password", "short"), "at least"),
        (("user", "set", "nobody@example.com", "--role", "viewer"), "no operator account"),
    ],
)
def test_operator_account_errors_are_one_line(tmp_path, args, needle):
    evcms(tmp_path, "db", "upgrade")
    assert_one_line_error(evcms(tmp_path, *args), needle)
