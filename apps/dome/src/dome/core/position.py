"""Where the dome is, from the encoder: unwrapping, gearing by any ratio, direction, bad
frames, and whether the position can be trusted after a restart.

The *machine angle* is dome degrees accumulated from the encoder (it does not wrap);
the azimuth is the machine angle plus the sync offset, wrapped to [0, 360).
"""

from __future__ import annotations

from collections import Counter

from dome.core.mechanics import Mechanics
from dome.core.ports import EncoderSample, FrameError
from dome.core.store import Persisted

# how far (encoder counts) the encoder may read from the persisted reading for the
# persisted position to be trusted: it does not move at rest, but may sit on an edge
TRUST_COUNTS = 2


class PositionTracker:
    def __init__(self, mechanics: Mechanics) -> None:
        self.m = mechanics
        self._cpt = mechanics.encoder_counts_per_turn
        self._sign = -1 if mechanics.encoder_reversed else 1
        self.raw: int | None = None
        self.unwrapped: int | None = None  # counts, signed so + is clockwise
        self.reference_deg = 0.0  # machine angle = reference + unwrapped * deg_per_count
        # True once the machine angle is known: always with a 1:1 encoder, else after a
        # trusted restart or a home-switch reference
        self.referenced = mechanics.absolute
        self.bad_in_row = 0
        self.last_bad = ""
        self.frames_ok = 0
        self.frame_errors: Counter[str] = Counter({kind.value: 0 for kind in FrameError})
        self.trust_note: str | None = None
        self._restore: Persisted | None = None

    # --- reading -----------------------------------------------------------------------
    def update(self, sample: EncoderSample) -> bool:
        """Take one reading; ``True`` when it was a good frame."""
        if sample.counts is None:
            kind = sample.error or FrameError.TRANSPORT
            self.frame_errors[kind.value] += 1
            self.bad_in_row += 1
            self.last_bad = kind.value
            return False
        self.bad_in_row = 0
        self.frames_ok += 1
        counts = sample.counts
        if self.raw is None or self.unwrapped is None:
            self.unwrapped = self._sign * counts
            self.raw = counts
            if self._restore is not None:
                self._apply_restore(self._restore)
                self._restore = None
            return True
        step = counts - self.raw
        # one period moves the wheel far less than half a turn: a bigger jump is a wrap
        half = self._cpt // 2
        if step > half:
            step -= self._cpt
        elif step < -half:
            step += self._cpt
        self.unwrapped += self._sign * step
        self.raw = counts
        return True

    @property
    def machine_deg(self) -> float | None:
        if self.unwrapped is None:
            return None
        return self.reference_deg + self.unwrapped * self.m.deg_per_count

    # --- restart and re-reference -----------------------------------------------------
    def restore(self, persisted: Persisted) -> None:
        """Decide, at the first good frame, whether the persisted position holds."""
        self._restore = persisted

    def _apply_restore(self, p: Persisted) -> None:
        assert self.raw is not None
        assert self.unwrapped is not None
        if self.m.absolute:
            return
        if p.position_deg is None or p.encoder_raw is None:
            self.trust_note = "no position was saved: find home first"
            return
        if not p.position_clean:
            self.trust_note = "the controller stopped while the dome moved: find home first"
            return
        diff = (self.raw - p.encoder_raw + self._cpt // 2) % self._cpt - self._cpt // 2
        if abs(diff) > TRUST_COUNTS:
            self.trust_note = (
                f"the encoder reads {self.raw}, not the {p.encoder_raw} saved with the"
                " position: the dome was moved while the controller was off; find home"
            )
            return
        now_deg = p.position_deg + self._sign * diff * self.m.deg_per_count
        self.reference_deg = now_deg - self.unwrapped * self.m.deg_per_count
        self.referenced = True
        self.trust_note = None

    def mark_referenced(self) -> None:
        """The azimuth is known again (the home switch was reached; the controller moved
        the sync offset so the switch reads its azimuth)."""
        self.referenced = True
        self.trust_note = None
