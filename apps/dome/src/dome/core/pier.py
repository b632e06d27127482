"""Which side of the pier the telescope is on: a policy, not a constant.

ASCOM's pierEast is the tube east of the pier, looking west (an object past the
meridian, hour angle > 0); pierWest looks east. ``by-hour-angle`` flips at the meridian,
or ``flip_offset_deg`` of hour angle past it (mounts track on a little before flipping);
``mount`` asks the telescope (ASCOM SideOfPier) and falls back to the hour angle when the
mount does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PierSide = Literal["east", "west"]
PierMode = Literal["east", "west", "by-hour-angle", "mount"]


@dataclass(frozen=True)
class PierPolicy:
    mode: PierMode = "by-hour-angle"
    flip_offset_deg: float = 0.0

    def side(self, hour_angle_deg: float, mount_side: str | None = None) -> tuple[PierSide, str]:
        """The side, and which rule gave it."""
        if self.mode == "east":
            return "east", "policy: east"
        if self.mode == "west":
            return "west", "policy: west"
        if self.mode == "mount" and mount_side in ("east", "west"):
            return ("east" if mount_side == "east" else "west"), "the mount's SideOfPier"
        side: PierSide = "east" if hour_angle_deg >= self.flip_offset_deg else "west"
        why = f"hour angle {hour_angle_deg:+.1f} deg, flip at {self.flip_offset_deg:+.1f}"
        if self.mode == "mount":
            why = f"the mount does not know its side; {why}"
        return side, why
