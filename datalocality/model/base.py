"""Base class of every model: frozen, strict about unknown fields, SpecError on bad input."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, Self, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from datalocality.errors import SpecError

_M = TypeVar("_M", bound=BaseModel)
_ALL_FIELDS: dict[type[BaseModel], set[str]] = {}
_SECRET_MODELS: set[str] = set()
HIDDEN = "***"


def secret_model(cls: type[_M]) -> type[_M]:
    """Mark a model whose place holds a credential reference: a value given there instead
    (a password typed inline, say) is refused without being shown."""
    _SECRET_MODELS.add(cls.__name__)
    return cls


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "<root>"


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The model a field holds, directly or inside ``list``/``tuple``/``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_model_in, get_args(annotation)) if m is not None), None)


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model accepts where ``loc`` points (names and aliases), following
    nested models through lists and optionals; [] where ``loc`` leaves the models."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = current.model_fields if current is not None else {}
        field = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        if field is None:
            return []
        current = _model_in(field.annotation)
    if current is None:
        return []
    return sorted({key for f, info in current.model_fields.items() for key in (f, info.alias or f)})


def _did_you_mean(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> str:
    """``; did you mean 'x'?`` for a misspelt key, from the keys accepted there."""
    if model is None or not loc or not isinstance(loc[-1], str):
        return ""
    close = difflib.get_close_matches(loc[-1], _fields_at(model, loc[:-1]), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def spec_error_from(exc: ValidationError, model: type[BaseModel] | None = None) -> SpecError:
    """Turn pydantic's first error into a SpecError naming the field path and the value
    (and, for an unknown key of ``model``, the accepted key it is closest to)."""
    first = exc.errors(include_url=False)[0]
    field = _location(tuple(first["loc"]))
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, SpecError):
        # Validators name a path relative to where they sit ("" for the field itself).
        inner = cause.field
        if field == "<root>":
            field = inner or field
        elif inner:
            field = f"{field}{'' if inner.startswith('[') else '.'}{inner}"
        return SpecError(field, cause.value, cause.reason)
    reason = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        reason += _did_you_mean(model, tuple(first["loc"]))
    if (first.get("ctx") or {}).get("class_name") in _SECRET_MODELS:
        return SpecError(field, HIDDEN, reason)  # it may be the credential itself
    return SpecError(field, first.get("input"), reason)


def trusted(cls: type[_M], **values: Any) -> _M:
    """Build a model from values this package computed itself, skipping validation.

    Plans carry one Transfer per moved chunk; validating 100k of them would dominate
    planning time, and every value here comes from already-validated input. Instances
    given every field share one fields-set (pydantic copies it before changing it).
    """
    fields = _ALL_FIELDS.get(cls)
    if fields is None:
        fields = _ALL_FIELDS[cls] = set(cls.model_fields)
    return trusted_maker(cls)(values) if len(values) == len(fields) else _partial(cls, values)


def trusted_maker(cls: type[_M]) -> Callable[[dict[str, Any]], _M]:
    """A builder of trusted ``cls`` instances from a dict of every field: :func:`trusted`
    without keyword packing or the field count, for loops building 100k of them."""
    fields = _ALL_FIELDS.get(cls)
    if fields is None:
        fields = _ALL_FIELDS[cls] = set(cls.model_fields)
    new, assign = cls.__new__, object.__setattr__

    def make(values: dict[str, Any]) -> _M:
        obj = new(cls)
        assign(obj, "__dict__", values)
        assign(obj, "__pydantic_fields_set__", fields)
        assign(obj, "__pydantic_extra__", None)
        assign(obj, "__pydantic_private__", None)
        return obj

    return make


def _partial(cls: type[_M], values: dict[str, Any]) -> _M:
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


class Spec(BaseModel):
    """Frozen pydantic model whose validation failures are :class:`SpecError`."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, validate_default=True
    )

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise spec_error_from(exc, type(self)) from None

    @classmethod
    def parse(cls, data: object) -> Self:
        """Validate plain data (parsed YAML/JSON) into this model, raising SpecError."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise spec_error_from(exc, cls) from None
