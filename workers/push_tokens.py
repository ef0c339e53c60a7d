"""Where the app adapter finds a device's FCM token, and how it reports a dead one.

An outbound reply names the device (``address`` = device id), not its push token: the token
changes whenever FCM rotates it and the app tells us with ``PUT /api/v1/devices/me``, so it
is read at send time. The adapter only holds two callables; the process that sends replies
builds them here from its database and hands them over with
:meth:`channels.android_app.AndroidApp.bind_push_tokens` (channels never import the store).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from complaints.models import Device

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

from channels.base import PushTokenKiller, PushTokenLookup


def make_push_token_lookup(read_sf: sessionmaker[Session]) -> PushTokenLookup:
    """A lookup that reads ``devices.push_token`` in a thread, skipping dead tokens."""

    def read(device_id: str) -> str | None:
        with read_sf() as session:
            row = session.execute(
                select(Device.push_token, Device.push_token_dead).where(Device.id == device_id)
            ).first()
        if row is None or row.push_token_dead or not row.push_token:
            return None
        return str(row.push_token)

    async def lookup(device_id: str) -> str | None:
        return await asyncio.to_thread(read, device_id)

    return lookup


def make_push_token_killer(sf: sessionmaker[Session]) -> PushTokenKiller:
    """A callable that sets ``devices.push_token_dead`` for exactly the token FCM refused."""

    def mark(device_id: str, token: str) -> None:
        with sf.begin() as session:
            # Only that token: the app may have sent a fresh one while the push was in flight.
            session.execute(
                update(Device).where(Device.id == device_id, Device.push_token == token).values(push_token_dead=True)
            )

    async def kill(device_id: str, token: str) -> None:
        await asyncio.to_thread(mark, device_id, token)

    return kill
