"""X (Twitter): complaints from mentions of the city's account and from DMs to it.

- ``events``: X's payloads to intakes (the API v2 readers the poller uses, and the parts the
  webhook shares); no I/O.
- ``webhook``: the Account Activity webhook: CRC answers, signatures, its v1.1 events; no I/O.
- ``polling``: the mentions and DM pollers (cursors, rate limits, back-off).
- ``public``: the only text the city says in public (ticket + short status).
- ``api``: the tweepy client, its time-out and API host, and what its errors mean.
- ``channel``: :class:`XChannel`, the adapter the registry loads.
"""

from channels.x.channel import XChannel

__all__ = ["XChannel"]
