"""The `intake` command as an operator uses it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from config.settings import Settings
from gateway.cli import public_url_warnings
from tests.support.fake_telegram import FakeTelegram
from tests.support.system import free_port

ROOT = Path(__file__).resolve().parents[2]


def intake(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m gateway.cli ...` the way the console script does."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        env={**_clean_env(), **(env or {})},
        cwd=cwd or ROOT,
        timeout=60,
    )


def _clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KANNEL_", "TWILIO_", "ANDROID_", "REDIS_", "DATABASE_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["serve", "--help"],
        ["gateway", "--help"],
        ["worker", "--help"],
        ["db", "--help"],
        ["db", "upgrade", "--help"],
        ["telegram", "set-webhook", "--help"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    """`--help` works on the command and every sub-command."""
    result = intake(*args)
    assert result.returncode == 0 and "usage: intake" in result.stdout


def test_half_configured_provider_stops_start_up_naming_what_is_missing(tmp_path: Path) -> None:
    """Setting only part of a provider's variables refuses to start and names the missing ones."""
    result = intake("serve", env={"DATA_DIR": str(tmp_path), "TWILIO_ACCOUNT_SID": "AC123"})
    assert result.returncode == 2
    assert "TWILIO_AUTH_TOKEN" in result.stderr and "TWILIO_FROM" in result.stderr


def test_worker_without_redis_explains_the_embedded_mode(tmp_path: Path) -> None:
    """`intake worker` without REDIS_URL says why it cannot work and what to run instead."""
    result = intake("worker", env={"DATA_DIR": str(tmp_path)})
    assert result.returncode == 2 and "intake serve" in result.stderr


def test_db_upgrade_creates_the_sqlite_database(tmp_path: Path) -> None:
    """`intake db upgrade` creates the SQLite file under DATA_DIR and can run twice."""
    for _ in range(2):
        result = intake("db", "upgrade", env={"DATA_DIR": str(tmp_path / "data")})
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "intake.sqlite3").exists()


def test_serve_from_another_directory_prints_urls_and_serves(tmp_path: Path) -> None:
    """`intake serve --port` started elsewhere prints its URLs, keeps its files in DATA_DIR, and answers."""
    port = free_port()
    data = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("w"),
        text=True,
        cwd=tmp_path,
        env={**_clean_env(), "DATA_DIR": str(data)},
    )
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert f"serving on http://127.0.0.1:{port}" in first, first + (tmp_path / "stderr.log").read_text()
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                    assert json.load(resp)["status"] == "ready"
                    break
            except OSError:
                assert time.monotonic() < deadline, "server did not answer"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lapor", timeout=5) as resp:
            assert re.search(r"<form", resp.read().decode())
        assert (data / "intake.sqlite3").exists()
        assert not (tmp_path / "var").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0


TELEGRAM_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
TELEGRAM_SECRET = "Bogor_webhook-secret_2026"


async def _intake_async(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run the command without blocking the loop that serves the fake Bot API."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**_clean_env(), **env},
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("args", "url"),
    [
        ((), "https://lapor.kotabogor.example/channels/telegram"),
        (("https://other.example/hook",), "https://other.example/hook"),
    ],
)
async def test_telegram_set_webhook_registers_our_url_and_secret(
    tmp_path: Path, args: tuple[str, ...], url: str
) -> None:
    """`intake telegram set-webhook [URL]` sets PUBLIC_BASE_URL/channels/telegram (or URL) with our secret."""
    async with FakeTelegram(TELEGRAM_TOKEN) as tg:
        code, out, err = await _intake_async(
            "telegram",
            "set-webhook",
            *args,
            env={
                "DATA_DIR": str(tmp_path),
                "PUBLIC_BASE_URL": "https://lapor.kotabogor.example/",
                "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
                "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
                "TELEGRAM_API_BASE": tg.url,
            },
        )
    assert code == 0, err
    assert tg.webhook == {
        "url": url,
        "secret_token": TELEGRAM_SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }
    assert url in out and TELEGRAM_TOKEN not in out + err and TELEGRAM_SECRET not in out + err


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"TELEGRAM_MODE": "poll"}, "TELEGRAM_MODE"),
        ({"PUBLIC_BASE_URL": "http://127.0.0.1:8080"}, "HTTPS"),
        ({"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN"),
    ],
)
async def test_telegram_set_webhook_refuses_what_cannot_work(tmp_path: Path, env: dict[str, str], says: str) -> None:
    """Poll mode, a plain-HTTP public URL or a missing token are refused before Telegram is called."""
    async with FakeTelegram(TELEGRAM_TOKEN) as tg:
        code, _, err = await _intake_async(
            "telegram",
            "set-webhook",
            env={
                "DATA_DIR": str(tmp_path),
                "PUBLIC_BASE_URL": "https://lapor.kotabogor.example",
                "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
                "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
                "TELEGRAM_API_BASE": tg.url,
                **env,
            },
        )
    assert code == 2 and says in err
    assert tg.calls_of("setWebhook") == []


def test_poller_with_nothing_to_poll_says_what_to_set(tmp_path: Path) -> None:
    """`intake poller` without a poller enabled (Telegram in webhook mode does not poll) names the settings."""
    result = intake(
        "poller",
        env={
            "DATA_DIR": str(tmp_path),
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        },
    )
    assert result.returncode == 2 and "TELEGRAM_MODE=poll" in result.stderr and "IMAP_" in result.stderr


async def test_poller_process_accepts_telegram_updates_and_reports_health(tmp_path: Path) -> None:
    """`intake poller` long-polls Telegram, stores the update, keeps the offset and the poller's health."""
    fixture = ROOT / "tests" / "channels" / "telegram" / "fixtures" / "message_text.json"
    update = json.loads(fixture.read_text()) | {"update_id": 900}
    data = tmp_path / "data"
    async with FakeTelegram(TELEGRAM_TOKEN) as tg:
        tg.push_update(update)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway.cli",
            "poller",
            stdout=asyncio.subprocess.PIPE,
            stderr=(tmp_path / "stderr.log").open("w"),
            env={
                **_clean_env(),
                "DATA_DIR": str(data),
                "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
                "TELEGRAM_MODE": "poll",
                "TELEGRAM_API_BASE": tg.url,
            },
            cwd=ROOT,
        )
        try:
            assert proc.stdout is not None
            first = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert b"intake poller: running" in first, (tmp_path / "stderr.log").read_text()
            assert b"poller: telegram" in await asyncio.wait_for(proc.stdout.readline(), 10)
            deadline = asyncio.get_running_loop().time() + 20
            while not [c for c in tg.calls_of("getUpdates") if c.get("offset") == "901"]:
                assert asyncio.get_running_loop().time() < deadline, "the offset never moved past the update"
                await asyncio.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0
    with sqlite3.connect(data / "intake.sqlite3") as db:
        assert db.execute("SELECT channel, state FROM inbox").fetchall() == [("telegram", "accepted")]
        assert db.execute("SELECT value FROM channel_cursors WHERE id = 'telegram:offset'").fetchone() == ("901",)
        assert db.execute("SELECT provider, status FROM poller_state").fetchall() == [("telegram", "connected")]


def test_start_up_warns_when_the_public_url_is_this_machine_for_x_and_twilio() -> None:
    """X's public replies and Twilio's signatures need the public address: a loopback one is named at start-up."""
    local = Settings(_env_file=None)  # type: ignore[call-arg]
    public = Settings(_env_file=None, public_base_url="https://lapor.kotabogor.go.id")  # type: ignore[call-arg]
    [x_warning, twilio_warning] = public_url_warnings(local, {"x", "twilio", "kannel"})
    assert "X is on" in x_warning and "http://127.0.0.1:8080" in x_warning
    assert "Twilio is on" in twilio_warning
    assert public_url_warnings(local, {"kannel", "telegram"}) == []
    assert public_url_warnings(public, {"x", "twilio"}) == []
