"""What the abuse limits cost (issue 12): per request, and per message in the verify worker.

1. Per request: one count of :class:`gateway.rate_limits.AddressLimiter` (the look-up and
   registration limits, on the event loop) and of :class:`workers.sender_counter.SenderCounter`
   (the verify worker), in memory and in Redis (the test server), against the baseline
   "parse + build envelope" of one Kannel SMS, the cheapest thing the gateway does per message.
2. Per message: the verify stage on 300 SMS from one phone on SQLite, limits off (every message
   checked: a case each, routing and a reply to follow) and on (``5/minute``: 5 checked, 295
   held on the latest case with no work to follow).

Run: ``.venv/bin/python bench/abuse_limits.py [--calls 5000]``. Figures are medians in µs or ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from urllib.parse import parse_qsl  # noqa: E402

from sqlalchemy import func, select  # noqa: E402

from channels.base import RawRequest  # noqa: E402
from channels.sms.kannel import KannelSms  # noqa: E402
from complaints import store  # noqa: E402
from complaints.models import Complaint  # noqa: E402
from config.settings import Settings  # noqa: E402
from gateway.rate_limits import LOOKUP, AddressLimiter  # noqa: E402
from normalizer.envelope import ComplaintEnvelope  # noqa: E402
from normalizer.normalize import build_envelope  # noqa: E402
from tests.support import services  # noqa: E402
from workers.sender_counter import SenderCounter  # noqa: E402
from workers.setup import build_runtime  # noqa: E402
from workers.verify import verify_batch  # noqa: E402

NIK = "3271014505900002"
PHONE = "+6281200000001"


def settings(data_dir: Path, **values: object) -> Settings:
    base: dict[str, object] = {"data_dir": data_dir, "rate_limits_enabled": True, "kannel_inbound_token": "t"}
    return Settings(_env_file=None, **{**base, **values})  # type: ignore[arg-type, call-arg]


def per_call_us(fn: Callable[[int], object], calls: int) -> float:
    """Median µs of ``fn(i)`` over ``calls`` calls, timed in 20 rounds."""
    rounds = []
    per_round = max(1, calls // 20)
    for r in range(20):
        start = time.perf_counter()
        for i in range(per_round):
            fn(r * per_round + i)
        rounds.append((time.perf_counter() - start) / per_round * 1e6)
    return statistics.median(rounds)


def sms_request(n: int, phone: str = PHONE) -> RawRequest:
    text = f"LAPOR%23{NIK}%23Siti+Aminah%23Jl+Pajajaran+5%23Lampu+PJU+mati+nomor+{n}"
    query = f"token=t&from={phone.replace('+', '%2B')}&to=1708&text={text}&id=bench-{n}-{uuid.uuid4().hex[:6]}"
    url = f"http://127.0.0.1/channels/sms/kannel?{query}"
    fields = dict(parse_qsl(query))
    return RawRequest("GET", "/channels/sms/kannel", fields, {}, b"", url=url, query_string=query)


async def lookup_cost(config: Settings, calls: int) -> float:
    """Median µs of one look-up count (a new address each time, so every count is a fresh key)."""
    limiter = AddressLimiter.from_settings(config)
    rounds = []
    for r in range(20):
        start = time.perf_counter()
        for i in range(calls // 20):
            await limiter.retry_after(LOOKUP, f"10.{r}.{i // 250}.{i % 250}")
        rounds.append((time.perf_counter() - start) / (calls // 20) * 1e6)
    await limiter.close()
    return statistics.median(rounds)


def envelopes_from(adapter: KannelSms, count: int, *, one_phone: bool) -> list[ComplaintEnvelope]:
    requests = [sms_request(n, PHONE if one_phone else f"+62812{n:07d}") for n in range(count)]
    return [build_envelope(i) for r in requests for i in adapter.parse(r).intakes]


def per_request(calls: int, data_dir: Path) -> None:
    adapter = KannelSms(settings(data_dir))
    baseline = per_call_us(lambda n: [build_envelope(i) for i in adapter.parse(sms_request(n)).intakes], calls)
    print(f"{'per request':<48}{'µs':>10}{'x base':>10}")
    print(f"{'baseline: parse + build envelope (Kannel SMS)':<48}{baseline:>10.1f}{1.0:>10.2f}")
    redis_url = services.check_redis()
    namespace = f"intake-bench-{uuid.uuid4().hex[:8]}"
    unlimited = "1000000/minute;1000000/hour"
    backends: list[tuple[str, dict[str, object], int]] = [
        ("memory", {}, calls),
        ("Redis", {"redis_url": redis_url, "redis_namespace": namespace}, max(100, calls // 5)),
    ]
    envelopes = envelopes_from(adapter, 50, one_phone=False)
    for label, extra, n_calls in backends:
        cost = asyncio.run(lookup_cost(settings(data_dir, lookup_rate_limit=unlimited, **extra), n_calls))
        print(f"{'look-up limit (event loop), ' + label:<48}{cost:>10.1f}{cost / baseline:>10.2f}")
        counter = SenderCounter(settings(data_dir, sender_rate_limit=unlimited, **extra))
        cost = per_call_us(lambda n, c=counter: c.over_limit(envelopes[n % 50]), n_calls)
        print(f"{'sender count (verify worker), ' + label:<48}{cost:>10.1f}{cost / baseline:>10.2f}")
    services.drop_namespace(redis_url, namespace)


def verify_cost(data_dir: Path, flood: int) -> None:
    heading = f"verify stage, {flood} SMS from one phone (SQLite)"
    print(f"\n{heading:<48}{'ms/msg':>10}{'cases':>8}{'work':>8}")
    for label, enabled in (("limits off", False), ("limits on (5/minute)", True)):
        config = settings(
            data_dir / ("on" if enabled else "off"), rate_limits_enabled=enabled, sender_rate_limit="5/minute"
        )
        runtime = build_runtime(config)
        try:
            ids = [
                o.inbox_id
                for o in store.accept_batch(runtime.sf, envelopes_from(KannelSms(config), flood, one_phone=True))
            ]
            start = time.perf_counter()
            result = verify_batch(runtime, ids)
            elapsed = (time.perf_counter() - start) * 1000 / flood
            with runtime.read_sf() as session:
                cases = session.scalar(select(func.count()).select_from(Complaint))
            work = sum(len(v) for v in result.follow_ups.values())
            print(f"{label:<48}{elapsed:>10.2f}{cases:>8}{work:>8}")
        finally:
            runtime.close()
    print("(work: follow-up items queued: routing for each checked case, the one notice for held ones)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--flood", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-abuse-") as folder:
        per_request(args.calls, Path(folder))
        verify_cost(Path(folder), args.flood)


if __name__ == "__main__":
    main()
