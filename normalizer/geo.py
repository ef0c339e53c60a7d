"""Shared locations: the one check every chat channel applies to a latitude/longitude pair."""

from __future__ import annotations


def coordinates(lat: object, lon: object) -> tuple[float, float]:
    """``(latitude, longitude)`` as floats; raises ``ValueError`` unless both are numbers in range.

    JSON booleans are refused although Python counts them as ints (``true`` is no latitude).
    """
    # Spelled out (not all(...)) so the type checker knows both are numbers below.
    if (
        isinstance(lat, bool)
        or isinstance(lon, bool)
        or not isinstance(lat, int | float)
        or not isinstance(lon, int | float)
    ):
        raise ValueError("needs numeric latitude and longitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError("out of range")
    return float(lat), float(lon)
