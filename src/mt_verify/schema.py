"""Frozen records validated from parsed YAML: the environment schema's machinery (:mod:`mt_verify.config`).

The schema was written for pydantic v2, whose import and model building cost ~0.15 s at every start (every
``pytest -m health`` pays it before its first check). This module keeps the same declarations and the same
messages for the types the schema uses, in plain Python::

    class Http(Record):
        timeout: Seconds = 10.0                      # Seconds = Annotated[float, Field(gt=0)]
        port: int = Field(443, ge=1, le=65535)
        hosts: list[str] = []

        @field_validator("hosts")
        @classmethod
        def _hosts(cls, v: list[str]) -> list[str]: ...

    Http.model_validate({"timeout": "2"})            # Http(timeout=2.0, port=443, hosts=[])

Types: ``str``, ``int``, ``float``, ``bool`` (pydantic's lax coercions: ``"2"`` is an int, ``"yes"`` a bool),
``Literal[...]``, ``X | None``, ``list[X]``, ``dict[str, X]``, another record, and ``Annotated[X, Field(...)]``.
Constraints: ``gt``, ``ge``, ``le``, ``min_length``, ``max_length``, ``pattern``. Unknown keys are refused.
Errors are collected, not stopped at the first, in pydantic's order (fields as declared, then unknown keys)::

    ValidationError (a ValueError)
      .errors() -> [{"loc": ("tls", "port"), "type": "greater_than_equal",
                     "msg": "Input should be greater than or equal to 1"}, ...]

Annotations are resolved on first use, so declaring a record costs no more than a plain class.
"""

from __future__ import annotations

import copy
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin

__all__ = ["REQUIRED", "Field", "FieldInfo", "Record", "ValidationError", "field_validator", "model_validator"]

R = TypeVar("R", bound="Record")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of a field that has none (the caller must give it).
REQUIRED: Any = _Required()


class ValidationError(ValueError):
    """Every problem found in one input; :meth:`errors` lists them as pydantic does (``loc``, ``type``, ``msg``)."""

    def __init__(self, title: str, errors: list[dict[str, Any]]) -> None:
        self.title, self._errors = title, errors
        first = errors[0]
        super().__init__(f"{len(errors)} validation error(s) for {title}: "
                         f"{'.'.join(map(str, first['loc']))}: {first['msg']}")

    def errors(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self._errors]


class FieldInfo:
    """A field's default and constraints; ``Field(...)`` as a default, or inside ``Annotated[...]``."""

    __slots__ = ("annotation", "default", "ge", "gt", "le", "max_length", "min_length", "pattern")

    def __init__(self, default: Any = REQUIRED, *, gt: float | None = None, ge: float | None = None,
                 le: float | None = None, min_length: int | None = None, max_length: int | None = None,
                 pattern: str | None = None) -> None:
        self.annotation: Any = None
        self.default = default
        self.gt, self.ge, self.le = gt, ge, le
        self.min_length, self.max_length, self.pattern = min_length, max_length, pattern

    def is_required(self) -> bool:
        return self.default is REQUIRED

    def _merged(self, other: FieldInfo) -> FieldInfo:
        out = FieldInfo(self.default if other.default is REQUIRED else other.default)
        for name in ("gt", "ge", "le", "min_length", "max_length", "pattern"):
            setattr(out, name, getattr(other, name) if getattr(other, name) is not None else getattr(self, name))
        return out


def Field(default: Any = REQUIRED, **constraints: Any) -> Any:
    return FieldInfo(default, **constraints)


def field_validator(*names: str) -> Callable[[Any], Any]:
    """Run the decorated classmethod on each named field's value once its type is valid; a ``ValueError`` it
    raises is that field's error, and what it returns is the field's value."""
    def mark(method: Any) -> Any:
        method.__mtv_fields__ = names
        return method
    return mark


def model_validator(*, mode: Literal["after"]) -> Callable[[Any], Any]:
    """Run the decorated method on the record once every field is valid; a ``ValueError`` it raises is the
    record's error (at the record's own location)."""
    def mark(method: Any) -> Any:
        method.__mtv_after__ = True
        return method
    return mark


class _Invalid(Exception):
    """A scalar that is not of its type (or out of its bounds): one error at the value's own location."""

    def __init__(self, kind: str, msg: str) -> None:
        self.kind, self.msg = kind, msg


_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def _num(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


class Record:
    """A frozen record with the fields its class annotates (see the module docstring)."""

    model_fields: ClassVar[dict[str, FieldInfo]]
    _mtv_validators: ClassVar[dict[str, list[Callable[[Any], Any]]]]
    _mtv_after: ClassVar[list[Callable[[Any], Any]]]
    _mtv_ready: ClassVar[bool]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._mtv_ready = False
        fields: dict[str, FieldInfo] = {}
        for base in reversed(cls.__mro__[1:]):
            fields.update(getattr(base, "__dict__", {}).get("model_fields", {}))
        for name in inspect.get_annotations(cls):
            if name.startswith("_") or name == "model_fields":
                continue
            value = cls.__dict__.get(name, REQUIRED)
            info = value if isinstance(value, FieldInfo) else FieldInfo(value)
            fields[name] = info
            if name in cls.__dict__:
                delattr(cls, name)
        cls.model_fields = fields
        validators: dict[str, list[Callable[[Any], Any]]] = {}
        after: list[Callable[[Any], Any]] = []
        for attr, raw in cls.__dict__.items():
            target = raw.__func__ if isinstance(raw, classmethod) else raw
            marked: tuple[str, ...] = getattr(raw, "__mtv_fields__", ()) or getattr(target, "__mtv_fields__", ())
            for name in marked:
                validators.setdefault(name, []).append(getattr(cls, attr))
            if getattr(target, "__mtv_after__", False):
                after.append(target)
        cls._mtv_validators, cls._mtv_after = validators, after

    @classmethod
    def fields(cls) -> dict[str, FieldInfo]:
        """``model_fields`` with each field's ``annotation`` resolved (once: the names an annotation uses exist
        only after the declaring module has run)."""
        if not cls._mtv_ready:
            hints = typing.get_type_hints(cls, include_extras=True)
            for name, info in cls.model_fields.items():
                info.annotation = hints[name]
            cls._mtv_ready = True
        return cls.model_fields

    def __init__(self, **values: Any) -> None:
        # Trusted construction (defaults and model_copy): no validation, as pydantic's model_construct.
        for name, info in self.model_fields.items():
            if name in values:
                value = values[name]
            elif info.is_required():
                raise TypeError(f"{type(self).__name__}: {name} is required")
            else:
                value = copy.copy(info.default) if isinstance(info.default, list | dict) else info.default
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: {name} cannot be set")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.model_dump() == other.model_dump()

    def __hash__(self) -> int:
        def frozen(value: Any) -> Any:
            if isinstance(value, list | tuple):
                return tuple(frozen(v) for v in value)
            if isinstance(value, dict):
                return tuple(sorted((k, frozen(v)) for k, v in value.items()))
            return value
        return hash((type(self).__name__, frozen(self.model_dump())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.model_fields) + ")"

    @classmethod
    def model_validate(cls: type[R], data: Any) -> R:
        errors: list[dict[str, Any]] = []
        result = cls._mtv_validate(data, (), errors)
        if errors:
            raise ValidationError(cls.__name__, errors)
        return result

    def model_dump(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, Record):
                return value.model_dump()
            if isinstance(value, list):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value
        return {name: plain(getattr(self, name)) for name in self.model_fields}

    def model_copy(self: R, *, update: dict[str, Any] | None = None) -> R:
        return type(self)(**{**{n: getattr(self, n) for n in self.model_fields}, **(update or {})})

    @classmethod
    def _mtv_validate(cls, data: Any, loc: tuple[Any, ...], errors: list[dict[str, Any]]) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            errors.append({"loc": loc, "type": "model_type",
                           "msg": f"Input should be a valid dictionary or instance of {cls.__name__}"})
            return None
        before = len(errors)
        values: dict[str, Any] = {}
        for name, info in cls.fields().items():
            if name not in data:
                if info.is_required():
                    errors.append({"loc": (*loc, name), "type": "missing", "msg": "Field required"})
                continue
            value = _value(info.annotation, data[name], info, (*loc, name), errors)
            if value is _FAILED:
                continue
            for validator in cls._mtv_validators.get(name, ()):
                try:
                    value = validator(value)
                except ValueError as exc:
                    errors.append({"loc": (*loc, name), "type": "value_error", "msg": f"Value error, {exc}"})
                    break
            else:
                values[name] = value
        for key in data:
            if not isinstance(key, str):
                errors.append({"loc": (*loc, key), "type": "invalid_key", "msg": "Keys should be strings"})
            elif key not in cls.model_fields:
                errors.append({"loc": (*loc, key), "type": "extra_forbidden", "msg": "Extra inputs are not permitted"})
        if len(errors) > before:
            return None
        record = cls(**values)
        for method in cls._mtv_after:
            try:
                method(record)
            except ValueError as exc:
                errors.append({"loc": loc, "type": "value_error", "msg": f"Value error, {exc}"})
                return None
        return record


#: Returned for a value whose errors are already in the list.
_FAILED: Any = object()


def _value(annotation: Any, value: Any, info: FieldInfo | None, loc: tuple[Any, ...],
           errors: list[dict[str, Any]]) -> Any:
    """``value`` as ``annotation``, or ``_FAILED`` with every error below ``loc`` appended to ``errors``."""
    try:
        return _check(annotation, value, info, loc, errors)
    except _Invalid as bad:
        errors.append({"loc": loc, "type": bad.kind, "msg": bad.msg})
        return _FAILED


def _check(annotation: Any, value: Any, info: FieldInfo | None, loc: tuple[Any, ...],
           errors: list[dict[str, Any]]) -> Any:
    """``value`` as ``annotation`` (coerced as pydantic's lax mode does); raises :class:`_Invalid` for a scalar,
    appends to ``errors`` (and returns ``_FAILED``) for what is inside a record, list or mapping (:func:`_value`
    turns the first into the second)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is typing.Annotated:
        for meta in args[1:]:
            if isinstance(meta, FieldInfo):
                info = meta if info is None else meta._merged(info)
        return _check(args[0], value, info, loc, errors)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        return _check(rest[0], value, info, loc, errors)
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        shown = [repr(a) for a in args]
        raise _Invalid("literal_error", "Input should be "
                       + (" or ".join([", ".join(shown[:-1]), shown[-1]]) if len(shown) > 1 else shown[0]))
    if origin is list:
        if not isinstance(value, list | tuple):
            raise _Invalid("list_type", "Input should be a valid list")
        items = [_value(args[0], item, None, (*loc, i), errors) for i, item in enumerate(value)]
        return _FAILED if any(got is _FAILED for got in items) else items
    if origin is dict:
        if not isinstance(value, dict):
            raise _Invalid("dict_type", "Input should be a valid dictionary")
        out, failed = {}, False
        for key, item in value.items():
            if not isinstance(key, str):
                errors.append({"loc": (*loc, key, "[key]"), "type": "string_type",
                               "msg": "Input should be a valid string"})
                failed = True
                continue
            out[key] = _value(args[1], item, None, (*loc, key), errors)
            failed = failed or out[key] is _FAILED
        return _FAILED if failed else out
    if isinstance(annotation, type) and issubclass(annotation, Record):
        before = len(errors)
        got = annotation._mtv_validate(value, loc, errors)
        return _FAILED if len(errors) > before else got
    if annotation is str:
        return _string(value, info)
    if annotation is bool:
        return _bool(value)
    if annotation is int:
        return _bounded(_int(value), info)
    if annotation is float:
        return _bounded(_float(value), info)
    raise TypeError(f"schema: unsupported annotation {annotation!r}")


def _string(value: Any, info: FieldInfo | None) -> str:
    value = _text(value)
    if isinstance(value, bytes | bytearray):  # not UTF-8
        raise _Invalid("string_unicode", "Input should be a valid string, unable to parse raw data as a unicode "
                       "string")
    if not isinstance(value, str):
        raise _Invalid("string_type", "Input should be a valid string")
    if info is not None:
        if info.min_length is not None and len(value) < info.min_length:
            n = info.min_length
            raise _Invalid("string_too_short", f"String should have at least {n} character{'s' * (n != 1)}")
        if info.max_length is not None and len(value) > info.max_length:
            n = info.max_length
            raise _Invalid("string_too_long", f"String should have at most {n} character{'s' * (n != 1)}")
        if info.pattern is not None and not re.search(info.pattern, value):
            raise _Invalid("string_pattern_mismatch", f"String should match pattern '{info.pattern}'")
    return value


def _text(value: Any) -> Any:
    """Raw bytes are parsed as their text (as pydantic does); bytes that are not UTF-8 are returned as they are."""
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode()
        except UnicodeDecodeError:
            return value
    return value


_INTEGRAL = re.compile(r"^[+-]?[0-9]+(?:\.0*)?$")


def _bool(value: Any) -> bool:
    value = _text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
    if isinstance(value, str | int):
        raise _Invalid("bool_parsing", "Input should be a valid boolean, unable to interpret input")
    raise _Invalid("bool_type", "Input should be a valid boolean")


def _int(value: Any) -> int:
    value = _text(value)
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise _Invalid("int_from_float", "Input should be a valid integer, got a number with a fractional part")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if _INTEGRAL.match(text):
            return int(text.split(".")[0])
        raise _Invalid("int_parsing", "Input should be a valid integer, unable to parse string as an integer")
    raise _Invalid("int_type", "Input should be a valid integer")


def _float(value: Any) -> float:
    value = _text(value)
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise _Invalid("float_parsing",
                           "Input should be a valid number, unable to parse string as a number") from None
    raise _Invalid("float_type", "Input should be a valid number")


def _bounded(value: Any, info: FieldInfo | None) -> Any:
    if info is None:
        return value
    if info.gt is not None and not value > info.gt:
        raise _Invalid("greater_than", f"Input should be greater than {_num(info.gt)}")
    if info.ge is not None and not value >= info.ge:
        raise _Invalid("greater_than_equal", f"Input should be greater than or equal to {_num(info.ge)}")
    if info.le is not None and not value <= info.le:
        raise _Invalid("less_than_equal", f"Input should be less than or equal to {_num(info.le)}")
    return value
