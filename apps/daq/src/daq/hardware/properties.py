"""Declared instrument properties, after pymeasure: a driver reads like the manual.

``wavelength = control("W?", "W{value}", parse_int, in_range(400, 1100), "Control ...")``
declares the get command, the set command, the reply parser and the validator in one
line. The validator runs before any byte is sent, so a bad value changes nothing.
Templates may use ``{value}`` and any field the driver's ``template_fields()`` returns
(``{axis}`` for an ESP300 axis, ``{address}`` for an ELL14 mount).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, Self, TypeVar, overload

from daq.core.errors import ValueRefused

T = TypeVar("T")
V = TypeVar("V")


class Commander(Protocol):
    def template_fields(self) -> dict[str, object]: ...
    def query(self, command: str, parse: Callable[[str], T]) -> T: ...
    def send(self, command: str) -> None: ...


Validator = Callable[[Any, Any], Any]
"""``(value, instrument) -> value to send``; raises :class:`ValueRefused`."""


class Measurement(Generic[T]):
    """A read-only quantity ("Measure ...")."""

    def __init__(self, get: str, parse: Callable[[str], T], doc: str) -> None:
        self.get_command = get
        self.parse = parse
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: Commander, owner: type) -> T: ...
    def __get__(self, obj: Commander | None, owner: type) -> T | Self:
        if obj is None:
            return self
        return obj.query(self.get_command.format(**obj.template_fields()), self.parse)


class Control(Measurement[T], Generic[T]):
    """A setting that can be read and written ("Control ...")."""

    def __init__(
        self,
        get: str,
        set: str,
        parse: Callable[[str], T],
        validator: Validator,
        doc: str,
    ) -> None:
        super().__init__(get, parse, doc)
        self.set_command = set
        self.validator = validator

    def check(self, value: Any, obj: Commander) -> Any:
        """The value as it would be sent; raises :class:`ValueRefused` naming the setting."""
        try:
            return self.validator(value, obj)
        except ValueRefused as exc:
            raise ValueRefused(f"{self.name}: {exc}") from None

    def __set__(self, obj: Commander, value: T) -> None:
        checked = self.check(value, obj)
        obj.send(self.set_command.format(value=checked, **obj.template_fields()))


def measurement(get: str, parse: Callable[[str], T], doc: str) -> Measurement[T]:
    return Measurement(get, parse, doc)


def control(
    get: str,
    set: str,
    parse: Callable[[str], T],
    validator: Validator,
    doc: str,
) -> Control[T]:
    return Control(get, set, parse, validator, doc)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def in_range(low: float, high: float) -> Validator:
    """Refuse numbers outside ``[low, high]`` (and NaN, booleans, strings)."""

    def check(value: Any, _obj: Any) -> Any:
        if not _is_number(value):
            raise ValueRefused(f"expected a number, got {value!r}")
        if not low <= value <= high:
            raise ValueRefused(f"{value!r} is outside {low:g} to {high:g}")
        return value

    return check


def integer_in_range(low: int, high: int) -> Validator:
    def check(value: Any, obj: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueRefused(f"expected a whole number, got {value!r}")
        return in_range(low, high)(value, obj)

    return check


def boolean_as_digit(value: Any, _obj: Any) -> int:
    """True/False sent as ``1``/``0``."""
    if not isinstance(value, bool):
        raise ValueRefused(f"expected true or false, got {value!r}")
    return int(value)
