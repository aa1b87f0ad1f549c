"""What has landed: complete deliveries in the landing area and their versions.

A delivery is complete when its `_SUCCESS` marker exists (written last, or the directory renamed
into place whole). Its version is the marker's modification time and size, so a re-delivered
snapshot (a new marker) is seen as new and an unchanged one is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from platform_core.storage import SUCCESS_MARKER, Location


@dataclass(frozen=True)
class Delivery:
    name: str
    path: Location
    version: str


def complete_deliveries(area: Location, parse: Callable[[str], object]) -> tuple[list[Delivery], list[str]]:
    """Complete deliveries under `area` whose folder name `parse` accepts, oldest name first;
    and the names it refused (never used in a path or a query)."""
    found, refused = [], []
    if not area.is_dir():
        return found, refused
    for folder in sorted(p for p in area.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            parse(folder.name)
        except ValueError:
            refused.append(folder.name)
            continue
        marker = folder / SUCCESS_MARKER
        if marker.exists():
            stat = marker.stat()
            found.append(Delivery(folder.name, folder, f"{stat.st_mtime_ns}-{stat.st_size}"))
    return found, refused


def new_deliveries(deliveries: list[Delivery], seen: dict[str, str]) -> list[Delivery]:
    """Deliveries whose version differs from the one recorded in the cursor."""
    return [d for d in deliveries if seen.get(d.name) != d.version]
