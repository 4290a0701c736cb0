"""The environment schema's records (:mod:`mt_verify.schema`) accept, coerce and refuse what pydantic v2 does, with
the same error locations, types and messages: pydantic (installed for the Kubernetes client) is the oracle here,
the same declarations validated by both."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal

import pydantic
import pytest

from mt_verify import schema

VALUES: list[Any] = [
    None, True, False, 0, 1, 2, -1, 1.0, 1.5, 0.0, "", "0", "1", "2", " 12 ", "1.0", "1.5", "1e3", "inf", "x", "yes",
    "Off", "helm", "kubectl", "a" * 4, [], ["a"], [1], ("a",), {}, {"a": 1}, {"a": "x"}, {1: 2}, {"zz": 1},
    {"a": 0}, b"x",
]


def _pair(annotation: Any, default: Any) -> tuple[type[Any], type[Any]]:
    """One field ``f`` of ``annotation`` declared for both libraries, and a nested record ``Inner`` with ``a: int``."""
    ns_p: dict[str, Any] = {"Field": pydantic.Field}
    ns_s: dict[str, Any] = {"Field": schema.Field}

    class Inner(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        a: int = 0

    ns_p["Inner"] = Inner

    class Inner(schema.Record):  # type: ignore[no-redef]
        a: int = 0

    ns_s["Inner"] = Inner
    made = isinstance(annotation, types.FunctionType)
    ann_p, ann_s = (annotation(ns_p), annotation(ns_s)) if made else (annotation, annotation)
    made = isinstance(default, types.FunctionType)
    dp, ds = (default(pydantic.Field), default(schema.Field)) if made else (default, default)
    p = pydantic.create_model("M", __config__=pydantic.ConfigDict(extra="forbid"), f=(ann_p, dp))
    body = {"__annotations__": {"f": ann_s}} | ({} if ds is ... else {"f": ds})
    s = type("M", (schema.Record,), body)
    return p, s


FIELDS: dict[str, tuple[Any, Any]] = {
    "str": (str, ...),
    "int": (int, 0),
    "float": (float, 1.0),
    "bool": (bool, False),
    "seconds": (lambda ns: Annotated[float, ns["Field"](gt=0)], 1.0),
    "optional seconds": (lambda ns: Annotated[float, ns["Field"](gt=0)] | None, None),
    "port": (int, lambda F: F(443, ge=1, le=65535)),
    "name": (str, lambda F: F(min_length=1, max_length=3, pattern=r"^[a-z]+$")),
    "literal": (Literal["helm", "kubectl", "none"], "helm"),
    "list of str": (list[str], []),
    "map of seconds": (lambda ns: dict[str, Annotated[float, ns["Field"](gt=0)]], {}),
    "section": (lambda ns: ns["Inner"], lambda F: None),
    "optional section": (lambda ns: ns["Inner"] | None, None),
    "list of sections": (lambda ns: list.__class_getitem__(ns["Inner"]), []),
}


def _outcome(model: type[Any], data: Any) -> tuple[str, Any]:
    try:
        got = model.model_validate(data)
    except (pydantic.ValidationError, schema.ValidationError) as exc:
        return "refused", [(tuple(e["loc"]), e["type"], e["msg"]) for e in exc.errors()]
    value = got.f
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    elif isinstance(value, list):
        value = [v.model_dump() if hasattr(v, "model_dump") else v for v in value]
    return "accepted", (type(value).__name__, value)


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_each_value_gets_pydantics_verdict_and_message(field: str) -> None:
    annotation, default = FIELDS[field]
    if field == "section":
        default = ...
    p, s = _pair(annotation, default)
    differ = []
    for value in VALUES:
        for data in ({"f": value}, {"f": value, "extra": 1}):
            want, got = _outcome(p, data), _outcome(s, data)
            if want != got:
                differ.append(f"{data!r}: pydantic {want}, schema {got}")
    assert not differ, "\n".join(differ)


def test_missing_and_not_a_mapping() -> None:
    p, s = _pair(str, ...)
    for data in ({}, None, 5, "x", []):
        assert _outcome(s, data) == _outcome(p, data), data


class Window(schema.Record):
    start: int
    end: int
    hosts: list[str] = []

    @schema.field_validator("hosts")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        if "bad" in v:
            raise ValueError("no bad host")
        return [h.lower() for h in v]

    @schema.model_validator(mode="after")
    def _order(self) -> Window:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


def test_validators_run_after_the_type_and_report_at_their_place() -> None:
    assert Window.model_validate({"start": "1", "end": 2, "hosts": ["A"]}).hosts == ["a"]
    with pytest.raises(schema.ValidationError) as caught:
        Window.model_validate({"start": 1, "end": 2, "hosts": ["bad"]})
    assert caught.value.errors() == [{"loc": ("hosts",), "type": "value_error", "msg": "Value error, no bad host"}]
    with pytest.raises(schema.ValidationError) as caught:
        Window.model_validate({"start": 3, "end": 2})
    assert caught.value.errors()[0]["loc"] == () and "end must be after start" in caught.value.errors()[0]["msg"]
    with pytest.raises(schema.ValidationError) as caught:  # a field error: the record's check does not run
        Window.model_validate({"start": "x", "end": 2})
    assert [e["loc"] for e in caught.value.errors()] == [("start",)]


def test_records_are_frozen_copied_and_dumped() -> None:
    w = Window.model_validate({"start": 1, "end": 2})
    with pytest.raises(AttributeError):
        w.start = 5  # type: ignore[misc]
    moved = w.model_copy(update={"end": 9})
    assert (moved.start, moved.end, w.end) == (1, 9, 2)
    assert moved.model_dump() == {"start": 1, "end": 9, "hosts": []}
    assert Window.model_validate({"start": 1, "end": 2}) == w
    assert w.hosts is not Window.model_validate({"start": 1, "end": 2}).hosts  # a default list is not shared
    assert len({w, Window.model_validate({"start": 1, "end": 2}), moved}) == 2  # frozen: usable in sets
