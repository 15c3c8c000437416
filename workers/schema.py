"""The policy file's pydantic models, derived from the one declaration in ``workers/policy.py``.

Frozen and strict: unknown keys are errors, strings are never coerced from
numbers or booleans (YAML's ``no`` would otherwise become a pattern "False").
These models explain what is wrong with an invalid policy (the loader turns
their errors into ``FILE:LINE:COL`` problems) and give ``policy schema``;
:func:`to_policy` turns a validated document into the declared values.
Nothing here lists a key: each model is built from a declared dataclass, each
field's type from its kind (``workers/kinds.py``). Importing this module costs
tens of milliseconds, so the guard's path never does unless a policy is broken.
"""
from __future__ import annotations

from typing import Any, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from lanewarden.workers import policy as values
from lanewarden.workers.keys import keys_of
from lanewarden.workers.kinds import Section, Table

T = TypeVar("T")
_MODELS: dict[type[Any], type[BaseModel]] = {}


def model_of(cls: type[Any]) -> type[BaseModel]:
    """The pydantic model of a declared map (built once)."""
    found = _MODELS.get(cls)
    if found is not None:
        return found
    fields: dict[str, Any] = {}
    for k in keys_of(cls):
        annotation = k.kind.annotation(model_of)
        if k.nullable:
            annotation = Union[annotation, None]  # noqa: UP007 (a run-time value, not an annotation)
        if k.required:
            info = Field(description=k.doc)
        elif isinstance(k.kind, Section):
            info = Field(default=model_of(k.kind.cls)(), description=k.doc)
        else:  # immutable values, or a Table's empty dict (pydantic copies mutable defaults)
            info = Field(default=k.default, description=k.doc)
        fields[k.name] = (annotation, info)
    made: type[BaseModel] = create_model(
        cls.__name__, __config__=ConfigDict(extra="forbid", frozen=True), __doc__=cls.__doc__,
        __module__=__name__, **fields)
    _MODELS[cls] = made
    return made


Policy = model_of(values.Policy)


def to_values(cls: type[T], model: BaseModel) -> T:
    """A validated model as its declared dataclass."""
    out: dict[str, Any] = {}
    for k in keys_of(cls):
        value = getattr(model, k.name)
        if isinstance(k.kind, Section):
            value = to_values(k.kind.cls, value)
        elif isinstance(k.kind, Table):
            value = {item_id: to_values(k.kind.cls, item) for item_id, item in value.items()}
        out[k.name] = value
    return cls(**out)


def to_policy(model: BaseModel) -> values.Policy:
    """The validated document as the values the rest of lanewarden reads."""
    return to_values(values.Policy, model)
