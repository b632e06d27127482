from __future__ import annotations

from typing import Any

from daq.core.stream import Broadcaster


def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    stream = Broadcaster()
    got: list[dict[str, Any]] = []

    def broken(message: dict[str, Any]) -> None:
        raise RuntimeError("event loop is closed")

    stream.subscribe(broken)
    unsubscribe = stream.subscribe(got.append)
    stream.publish({"n": 1})
    unsubscribe()
    stream.publish({"n": 2})
    assert got == [{"n": 1}]
