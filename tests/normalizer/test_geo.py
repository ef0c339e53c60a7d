"""Shared locations from chat channels: numbers in range, nothing else."""

from __future__ import annotations

import pytest

from normalizer.geo import coordinates


def test_numbers_in_range_become_floats() -> None:
    """Kebun Raya Bogor's coordinates pass, as floats, ints included."""
    assert coordinates(-6.597629, 106.799568) == (-6.597629, 106.799568)
    assert coordinates(0, 180) == (0.0, 180.0)


@pytest.mark.parametrize(("lat", "lon"), [(True, 106.8), (-6.6, "106.8"), (None, 1), (91, 0), (0, -180.5)])
def test_anything_else_is_refused(lat: object, lon: object) -> None:
    """Booleans, strings, missing values and out-of-range numbers are refused with a reason."""
    with pytest.raises(ValueError, match="numeric|range"):
        coordinates(lat, lon)
