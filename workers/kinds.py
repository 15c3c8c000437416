"""What a policy key can hold: each kind's fast check and its pydantic type, side by side.

A key of ``workers/policy.py`` names one of these kinds. ``fast`` is the
check the guard runs on every start (no pydantic): it returns the value as
the policy's dataclasses store it, or raises :class:`Unsure` to let pydantic
decide and explain. ``annotation`` is the pydantic type ``workers/schema.py``
builds the models from; pydantic is imported only inside it. Keeping the two
next to each other is what keeps them in step; ``tests/test_policy_model.py``
fuzzes them to the same answers.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# What YAML names a worker, contract, suite or reviewer: also how the JSON Schema spells it.
ID_TEXT = r"[A-Za-z0-9][A-Za-z0-9._-]*"
ID = re.compile(ID_TEXT)
ID_MAX = 100


class Unsure(Exception):
    """The document is not of the plain shape: let pydantic decide and explain."""


def is_id(value: Any) -> bool:
    return type(value) is str and len(value) <= ID_MAX and ID.fullmatch(value) is not None


# Kinds are plain classes, not dataclasses: each dataclass costs a fraction of a millisecond
# to create, paid on every start of the guard.
# `type(x) is str` rather than isinstance: pydantic's strict types reject subclasses such as bool for
# int, and the fast check must never accept what pydantic would reject.
class Kind:
    """What a key holds. ``fast`` returns the stored value or raises :class:`Unsure`; it may be
    stricter than ``annotation`` (pydantic then decides) but never laxer."""

    def fast(self, value: Any) -> Any:
        raise NotImplementedError

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        """The pydantic type; ``model`` turns a declared dataclass into its pydantic model."""
        raise NotImplementedError


class Text(Kind):
    """A string."""

    def fast(self, value: Any) -> Any:
        if type(value) is not str:
            raise Unsure
        return value

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        from pydantic import StrictStr

        return StrictStr


class Folder(Text):
    """A folder inside the repository; the loader rejects wildcards, ``..``, ``.git`` and the like."""


class Flag(Kind):
    """true or false (never YAML's yes/no read as a string)."""

    def fast(self, value: Any) -> Any:
        if type(value) is not bool:
            raise Unsure
        return value

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        from pydantic import StrictBool

        return StrictBool


class Count(Kind):
    """A whole number, at least 1."""

    def fast(self, value: Any) -> Any:
        if type(value) is not int or value < 1:
            raise Unsure
        return value

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        from typing import Annotated

        from pydantic import Field, StrictInt

        return Annotated[StrictInt, Field(ge=1)]


def _exact_one(value: object) -> object:
    # True == 1.0 == 1 in Python; the file must say the integer 1.
    if type(value) is not int:
        raise ValueError("Input should be 1 (the integer)")
    return value


class Version(Kind):
    """The file format's version: the integer 1."""

    def fast(self, value: Any) -> Any:
        if type(value) is not int or value != 1:
            raise Unsure
        return value

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        from typing import Annotated, Literal

        from pydantic import BeforeValidator

        return Annotated[Literal[1], BeforeValidator(_exact_one)]


def _id_annotation() -> Any:
    from typing import Annotated

    from pydantic import Field, StrictStr

    return Annotated[StrictStr, Field(pattern=f"^{ID_TEXT}$", max_length=ID_MAX)]


class Ref(Kind):
    """The id of a worker defined under ``workers``."""

    def fast(self, value: Any) -> Any:
        if not is_id(value):
            raise Unsure
        return value

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        return _id_annotation()


class Strings(Kind):
    """A list of strings, kept as a tuple."""

    def __init__(self, *, non_empty: bool = False) -> None:
        self.non_empty = non_empty

    def fast(self, value: Any) -> Any:
        if type(value) is not list or (self.non_empty and not value):
            raise Unsure
        for item in value:
            if type(item) is not str:
                raise Unsure
        return tuple(value)

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        from pydantic import StrictStr

        return _sized(tuple[StrictStr, ...], self.non_empty)


class Patterns(Strings):
    """Path patterns (docs/policy.md); the loader checks each against the pattern language.

    ``decides``: the patterns decide a path's class for the worker (allow, deny,
    propose_only, handoff_required_on); read hints and other lists never do.
    """

    def __init__(self, *, non_empty: bool = False, decides: bool = False) -> None:
        super().__init__(non_empty=non_empty)
        self.decides = decides


class Refs(Kind):
    """A list of ids of workers defined under ``workers``."""

    def __init__(self, *, non_empty: bool = False) -> None:
        self.non_empty = non_empty

    def fast(self, value: Any) -> Any:
        if type(value) is not list or (self.non_empty and not value):
            raise Unsure
        for item in value:
            if not is_id(item):
                raise Unsure
        return tuple(value)

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        return _sized(tuple[_id_annotation(), ...], self.non_empty)  # type: ignore[misc]


class Choice(Text):
    """One of a closed set of words."""

    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def fast(self, value: Any) -> Any:
        if value not in self.choices or type(value) is not str:
            raise Unsure
        return value

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        from typing import Literal

        return Literal[self.choices]


class RefMap(Kind):
    """A map of names (as another tool spells them) to worker ids: CODEOWNERS owners, CI identities."""

    def fast(self, value: Any) -> Any:
        if type(value) is not dict:
            raise Unsure
        for name, wid in value.items():
            if type(name) is not str or not name or not is_id(wid):
                raise Unsure
        return dict(value)

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        from typing import Annotated

        from pydantic import Field, StrictStr

        return dict[Annotated[StrictStr, Field(min_length=1)], _id_annotation()]  # type: ignore[misc]


# The fast checks of nested maps are compiled by workers/keys.py from their declarations.
class Section(Kind):
    """One nested map, declared by a dataclass whose keys all have defaults."""

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        return model(self.cls)


class Table(Kind):
    """Maps of the same shape under ids (workers, contracts, ...)."""

    def __init__(self, cls: type[Any], *, non_empty: bool = False) -> None:
        self.cls = cls
        self.non_empty = non_empty

    def annotation(self, model: Callable[[type[Any]], Any]) -> Any:
        return _sized(dict[_id_annotation(), model(self.cls)], self.non_empty)  # type: ignore[misc]


def _sized(annotation: Any, non_empty: bool) -> Any:
    if not non_empty:
        return annotation
    from typing import Annotated

    from pydantic import Field

    return Annotated[annotation, Field(min_length=1)]
