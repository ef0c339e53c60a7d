"""``intake queues [--watch]``: the health picture in the terminal, as an operator runs it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from complaints.monitoring import ProcessInfo, QueueDepth, add_queue_samples, beat
from gateway.cli_queues import CLEAR
from normalizer.envelope import utcnow
from tests.conftest import base_settings
from tests.gateway.test_cli import ROOT, _clean_env, intake
from tests.gateway.test_console_health import stuck_message
from workers.setup import build_runtime


def seeded_data_dir(tmp_path: Path) -> Path:
    """A database as a running embedded system leaves it: a stuck message, a worker, a queue sample."""
    settings = base_settings(tmp_path)
    rt = build_runtime(settings)
    try:
        stuck_message(rt)
        now = utcnow()
        with rt.sf.begin() as session:
            started, last_beat = now - timedelta(hours=1), now - timedelta(minutes=5)
            beat(session, ProcessInfo("h:9:1", "serve", "box-1", 9, 4, started, last_beat, None))
            add_queue_samples(session, now, [QueueDepth("intake", ready=3, delayed=1, in_flight=2, dead=4)])
    finally:
        rt.close()
    return settings.data_dir


def test_queues_prints_problems_first_then_the_picture(tmp_path: Path) -> None:
    """The problems come first, in words; the queue line shows the sampled depths; exit code 0."""
    data_dir = seeded_data_dir(tmp_path)
    result = intake("queues", "--lang", "en", env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()
    assert lines[0].startswith("System health — As of ")
    assert lines[2] == "PROBLEMS"
    problem_lines = lines[3 : lines.index("QUEUES (last sample)") - 1]
    assert "  [Critical] 1 accepted message older than 5 min not yet processed" in problem_lines
    assert any(line.startswith("  [Critical] serve heartbeat missing since") for line in problem_lines)
    assert "  [Warning] 4 messages in the dead-letter queue" in problem_lines
    [queue_line] = [line for line in lines if line.startswith("  intake ")]
    assert queue_line.split()[:5] == ["intake", "3", "2", "1", "4"]  # ready, in flight, delayed, dead
    assert "MISSING" in out and "box-1" in out
    result = intake("queues", "--lang", "id", env={"DATA_DIR": str(data_dir)})
    assert "1 pesan diterima lebih dari 5 menit lalu belum diproses" in result.stdout


def test_queues_watch_redraws_until_ctrl_c(tmp_path: Path) -> None:
    """--watch clears the screen and draws again each interval; Ctrl-C ends it cleanly."""
    data_dir = seeded_data_dir(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "queues", "--watch", "0.5", "--lang", "en"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**_clean_env(), "DATA_DIR": str(data_dir)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        out = ""
        assert proc.stdout is not None
        while out.count(CLEAR) < 2 and time.monotonic() < deadline:
            out += proc.stdout.read(1)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert out.count(CLEAR) >= 2, err
    assert proc.returncode == 0, err
    assert "PROBLEMS" in out + rest
