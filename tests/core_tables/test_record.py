"""``pybuildpack._record``: records behave as ``dataclasses.dataclass`` does for every form
the package uses, and the standard module works on them. Each case builds the same class
twice, once with each decorator, and compares what users of the class can observe."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from pybuildpack import _record

Decorator = Callable[..., Any]
BOTH = [pytest.param(dataclasses, id="dataclasses"), pytest.param(_record, id="record")]


def _point(mod: Any, **options: Any) -> type:
    @mod.dataclass(**options)
    class Point:
        kind: ClassVar[str] = "point"
        x: int
        y: int = 0
        tags: tuple[str, ...] = mod.field(default=())
        seen: list[int] = mod.field(default_factory=list, compare=False, repr=False)

    return Point


OPTIONS = [
    pytest.param({}, id="plain"),
    pytest.param({"frozen": True}, id="frozen"),
    pytest.param({"frozen": True, "order": True}, id="frozen-order"),
    pytest.param({"eq": False, "repr": False}, id="no-eq-no-repr"),
    pytest.param({"order": True}, id="order"),
]


def _observe(cls: type) -> dict[str, Any]:
    a, b, c = cls(1), cls(1, 2, ("t",)), cls(x=1, y=0)
    seen: dict[str, Any] = {
        "fields": [(f.name, f.default, f.compare, f.repr) for f in dataclasses.fields(cls)],
        "match_args": cls.__match_args__,
        "values": (a.x, a.y, a.tags, a.seen, b.y, b.tags),
        "factory_fresh": a.seen is not c.seen,
        "eq": (a == c, a == b, a == object()),
        "repr": repr(b).replace(cls.__qualname__, "Point") if "__repr__" in cls.__dict__ else None,
        "hashable": cls.__hash__ is not None,
        "asdict": dataclasses.asdict(b),
        "replace": dataclasses.replace(b, y=5).y,
        "is_dataclass": dataclasses.is_dataclass(a),
        "classvar": cls.kind,
        "params": {
            k: getattr(cls.__dataclass_params__, k)
            for k in ("init", "repr", "eq", "order", "frozen")
        },
    }
    if seen["hashable"]:
        seen["hash_equal"] = hash(a) == hash(c)
    if cls.__dataclass_params__.order:
        seen["order"] = (a < b, a <= c, b > a, b >= b)
    if cls.__dataclass_params__.frozen:
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.x = 2
        with pytest.raises(AttributeError):
            del a.x
    else:
        a.x = 2
        seen["assigned"] = a.x
    return seen


@pytest.mark.parametrize("options", OPTIONS)
def test_records_behave_as_dataclasses(options: dict[str, Any]) -> None:
    assert _observe(_point(_record, **options)) == _observe(_point(dataclasses, **options))


@pytest.mark.parametrize("mod", BOTH)
def test_arguments_are_checked_like_dataclasses(mod: Any) -> None:
    cls = _point(mod)
    with pytest.raises(TypeError):
        cls()  # x is required
    with pytest.raises(TypeError):
        cls(1, 2, (), [], 5)  # one too many
    with pytest.raises(TypeError):
        cls(1, z=3)  # no such field
    with pytest.raises(ValueError):

        @mod.dataclass
        class Mutable:
            items: list[int] = []  # noqa: RUF012 - the mistake under test

    with pytest.raises(TypeError):

        @mod.dataclass
        class Order:
            a: int = 0
            b: int


def test_inheritance_post_init_and_mixing_with_dataclasses() -> None:
    @_record.dataclass(frozen=True)
    class Base:
        a: int
        b: str = "b"

    @_record.dataclass(frozen=True)
    class Child(Base):
        c: float = 1.5

        def __post_init__(self) -> None:
            object.__setattr__(self, "c", self.c * 2)

    @dataclasses.dataclass(frozen=True)
    class Standard(Child):
        d: int = 4

    @_record.dataclass(frozen=True)
    class Back(Standard):
        e: int = 5

    assert [f.name for f in dataclasses.fields(Child)] == ["a", "b", "c"]
    assert Child(1).c == 3.0 and Child(1) == Child(1, "b", 1.5) and Child(1) != Base(1)
    assert Standard(1).d == 4 and Standard(1).c == 3.0
    assert [f.name for f in dataclasses.fields(Back)] == ["a", "b", "c", "d", "e"]
    assert Back(1, e=9) == Back(1, "b", 1.5, 4, 9) and hash(Back(1)) == hash(Back(1))
    assert _record.replace(Back(1), a=2).a == 2
    with pytest.raises(TypeError):

        @_record.dataclass  # a mutable record cannot extend a frozen one
        class Thawed(Base):
            pass


def test_exceptions_stay_exceptions() -> None:
    @_record.dataclass(eq=False, repr=False)
    class Failure(Exception):
        detail: str
        code: int = 1

    err = Failure("boom")
    assert (err.detail, err.code) == ("boom", 1) and err != Failure("boom")
    with pytest.raises(Failure):
        raise err
    err.__traceback__ = None  # exceptions stay assignable


def test_replace_refuses_init_false_fields_and_hands_standard_classes_over() -> None:
    @_record.dataclass
    class Counted:
        n: int
        total: int = _record.field(default=0, init=False)

    with pytest.raises(ValueError):
        _record.replace(Counted(1), total=3)

    @dataclasses.dataclass
    class Standard:
        n: int

    assert _record.replace(Standard(1), n=2) == Standard(2)
    assert (
        _record.is_record(Counted) and _record.is_record(Standard(1)) and not _record.is_record(1)
    )


def test_unsupported_options_are_refused() -> None:
    for option in ("slots", "kw_only", "unsafe_hash", "match_args"):
        with pytest.raises(TypeError, match="records do not support"):
            _record.dataclass(**{option: True})


def test_records_pickle_like_dataclasses() -> None:
    from pybuildpack.version import PythonVersion

    value = PythonVersion(3, 13, 5)
    assert pickle.loads(pickle.dumps(value)) == value


def test_records_do_not_import_dataclasses_until_asked() -> None:
    code = (
        "import sys\n"
        "from pybuildpack.version import PythonVersion\n"
        "v = PythonVersion(3, 13, 5)\n"
        "assert repr(v) == 'PythonVersion(major=3, minor=13, patch=5)'\n"
        "assert v < PythonVersion(3, 14, 0)\n"
        "assert 'dataclasses' not in sys.modules and 'inspect' not in sys.modules\n"
        "import dataclasses\n"
        "assert dataclasses.fields(v)[2].name == 'patch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_fields_and_asdict_agree_with_dataclasses() -> None:
    for mod in (dataclasses, _record):

        @mod.dataclass(frozen=True)
        class Inner:
            a: int
            b: tuple[str, ...] = ()

        @mod.dataclass
        class Outer:
            name: str
            inner: Inner
            items: list[Inner] = mod.field(default_factory=list)
            extra: dict[str, int] | None = None

        value = Outer("x", Inner(1, ("y",)), [Inner(2)], {"k": 3})
        assert [f.name for f in mod.fields(Outer)] == ["name", "inner", "items", "extra"]
        assert mod.asdict(value) == {
            "name": "x",
            "inner": {"a": 1, "b": ("y",)},
            "items": [{"a": 2, "b": ()}],
            "extra": {"k": 3},
        }
    with pytest.raises(TypeError):
        _record.fields(1)
