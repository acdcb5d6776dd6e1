"""Records: ``dataclasses.dataclass`` for the forms this package uses, at a fraction of the
import cost.

Why: every ``pybuildpack`` command starts a fresh interpreter, and the standard decorator was
the largest part of a short command's start-up: importing ``dataclasses`` pulls in
``inspect`` (about 6 ms here), and each decorated class compiles several methods with
``exec`` when its module is imported (~0.3 ms a class, ~100 classes on the resolve path).

What: ``dataclass(frozen=..., eq=..., order=..., repr=...)`` and ``field(...)`` with the
meaning the standard ones have for those options. A record's ``__init__`` is compiled the
first time the class is instantiated (never, for most error classes in a given run);
``__eq__``/``__hash__``/``__repr__``/ordering are shared functions reading the class's
field list. The standard module stays usable on records: ``dataclasses.fields``,
``replace``, ``asdict`` and ``is_dataclass`` see ``__dataclass_fields__`` and
``__dataclass_params__``, which are built (importing ``dataclasses``) the first time
something asks for them. A real ``dataclasses.dataclass`` may decorate a subclass of a
record, and a record may extend a real dataclass.

Options the standard decorator has and this one does not (``slots``, ``kw_only``,
``unsafe_hash``, ``InitVar``, ``KW_ONLY``) are refused with ``TypeError``, so a use that
needs them goes to ``dataclasses`` deliberately.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class _MissingType:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _MissingType()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record (``dataclasses.FrozenInstanceError`` is
    raised instead once that module is loaded, so ``except`` clauses for either work)."""


class Field:
    """One field of a record: its name, default and what the generated methods use it for."""

    __slots__ = ("compare", "default", "default_factory", "hash", "init", "name", "repr", "type")

    def __init__(
        self,
        default: Any = MISSING,
        default_factory: Any = MISSING,
        init: bool = True,
        repr: bool = True,
        compare: bool = True,
        hash: bool | None = None,
    ) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare
        self.hash = hash

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r})"


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | Any = MISSING,
    init: bool = True,
    repr: bool = True,
    compare: bool = True,
    hash: bool | None = None,
) -> Any:
    """Like ``dataclasses.field`` (the options records support)."""
    return Field(default, default_factory, init, repr, compare, hash)


_OPTIONS = frozenset({"init", "repr", "eq", "order", "frozen"})
_CLASSVAR_PREFIXES = ("ClassVar", "typing.ClassVar", "t.ClassVar")


def dataclass(cls: Any = None, /, **options: Any) -> Any:
    """Make ``cls`` a record (see the module docstring); usable bare or with options."""
    unknown = set(options) - _OPTIONS
    if unknown:
        raise TypeError(f"records do not support {sorted(unknown)}: use dataclasses.dataclass")

    def wrap(c: type) -> type:
        return _process(c, **options)

    return wrap if cls is None else wrap(cls)


def _own_annotations(cls: type) -> dict[str, Any]:
    # a class's own only (3.10+; on 3.14+ built on demand, as strings under the
    # ``annotations`` future import that every module here uses)
    return dict(getattr(cls, "__annotations__", None) or {})


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(_CLASSVAR_PREFIXES)
    return repr(annotation).startswith("typing.ClassVar")


def _base_fields(base: type) -> list[Field] | None:
    own = base.__dict__.get("__record_fields__")
    if own is not None:
        return list(own)
    real = base.__dict__.get("__dataclass_fields__")
    if real is None:
        return None
    import dataclasses

    converted = []
    for f in real.values():
        if f._field_type is not dataclasses._FIELD:  # type: ignore[attr-defined]
            continue
        mine = Field(
            MISSING if f.default is dataclasses.MISSING else f.default,
            MISSING if f.default_factory is dataclasses.MISSING else f.default_factory,
            f.init,
            f.repr,
            f.compare,
            f.hash,
        )
        mine.name, mine.type = f.name, f.type
        converted.append(mine)
    return converted


def _process(
    cls: type,
    *,
    init: bool = True,
    repr: bool = True,
    eq: bool = True,
    order: bool = False,
    frozen: bool = False,
) -> type:
    if order and not eq:
        raise ValueError("eq must be true if order is true")
    fields: dict[str, Field] = {}
    for base in cls.__mro__[-1:0:-1]:
        for f in _base_fields(base) or ():
            fields[f.name] = f
    for name, annotation in _own_annotations(cls).items():
        if _is_classvar(annotation):
            continue
        if isinstance(annotation, str) and ("InitVar" in annotation or "KW_ONLY" in annotation):
            raise TypeError(f"{cls.__name__}.{name}: records do not support InitVar/KW_ONLY")
        default = cls.__dict__.get(name, MISSING)
        if isinstance(default, Field):
            f = default
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        else:
            if default is not MISSING and type(default).__hash__ is None:
                raise ValueError(f"mutable default {type(default)} for field {name} is not allowed")
            f = Field(default)
        f.name, f.type = name, annotation
        fields[name] = f
    seen_default = False
    for f in fields.values():
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if f.init and seen_default and not has_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
        seen_default = seen_default or (f.init and has_default)

    base = next((b for b in cls.__mro__[1:] if "__record_options__" in b.__dict__), None)
    if base is not None and _frozen(base) != frozen:
        raise TypeError(
            "cannot inherit frozen record from a non-frozen one"
            if frozen
            else "cannot inherit non-frozen record from a frozen one"
        )

    attrs: dict[str, Any] = {
        "__record_fields__": tuple(fields.values()),
        "__record_options__": (init, repr, eq, order, frozen),
        "__dataclass_fields__": _LazyFields(),
        "__dataclass_params__": _LazyParams(),
        "__match_args__": tuple(f.name for f in fields.values() if f.init),
    }
    if init and "__init__" not in cls.__dict__:
        attrs["__init__"] = _first_init
    if repr and "__repr__" not in cls.__dict__:
        attrs["__repr__"] = _repr
    if eq:
        if "__eq__" not in cls.__dict__:
            attrs["__eq__"] = _eq
        if "__hash__" not in cls.__dict__ or cls.__dict__["__hash__"] is None:
            # as dataclasses: eq + frozen hashes the fields; eq alone is unhashable
            attrs["__hash__"] = _hash if frozen else None
    if order:
        for name, method in _ORDER.items():
            if name in cls.__dict__:
                raise TypeError(f"cannot overwrite attribute {name} in class {cls.__name__}")
            attrs[name] = method
    if frozen:
        attrs["__setattr__"] = _frozen_setattr
        attrs["__delattr__"] = _frozen_delattr
    for name, value in attrs.items():
        setattr(cls, name, value)
    return cls


def _frozen(cls: type) -> bool:
    return bool(cls.__record_options__[4])  # type: ignore[attr-defined]


def _first_init(self: Any, *args: Any, **kwargs: Any) -> None:
    """Compile the class's ``__init__`` (the code ``dataclasses`` would write), then call it."""
    owner = next(c for c in type(self).__mro__ if c.__dict__.get("__init__") is _first_init)
    frozen = _frozen(owner)
    namespace: dict[str, Any] = {"_MISSING": MISSING, "_object": object}
    params: list[str] = []
    body: list[str] = []
    for f in owner.__record_fields__:
        value = f.name
        if f.default_factory is not MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            value = f"_factory_{f.name}() if {f.name} is _MISSING else {f.name}"
            if not f.init:
                value = f"_factory_{f.name}()"
        if f.init:
            if f.default is not MISSING:
                namespace[f"_default_{f.name}"] = f.default
                params.append(f"{f.name}=_default_{f.name}")
            else:
                params.append(f"{f.name}=_MISSING" if f.default_factory is not MISSING else f.name)
        elif f.default_factory is MISSING:
            continue  # a class attribute holds it
        body.append(
            f"_object.__setattr__(self, {f.name!r}, {value})"
            if frozen
            else f"self.{f.name} = {value}"
        )
    if hasattr(owner, "__post_init__"):
        body.append("self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    exec(source, namespace)  # field names are identifiers from our own class bodies
    made = namespace["__init__"]
    made.__qualname__ = f"{owner.__qualname__}.__init__"
    made.__module__ = owner.__module__
    owner.__init__ = made
    made(self, *args, **kwargs)


def _values(self: Any, which: str = "compare") -> tuple[Any, ...]:
    return tuple(getattr(self, f.name) for f in type(self).__record_fields__ if getattr(f, which))


def _eq(self: Any, other: object) -> Any:
    if other.__class__ is self.__class__:
        return _values(self) == _values(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(
        tuple(
            getattr(self, f.name)
            for f in type(self).__record_fields__
            if (f.compare if f.hash is None else f.hash)
        )
    )


def _repr(self: Any) -> str:
    shown = ", ".join(
        f"{f.name}={getattr(self, f.name)!r}" for f in type(self).__record_fields__ if f.repr
    )
    return f"{type(self).__qualname__}({shown})"


def _compare(op: Callable[[tuple[Any, ...], tuple[Any, ...]], bool]) -> Callable[[Any, Any], Any]:
    def method(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return op(_values(self), _values(other))
        return NotImplemented

    return method


_ORDER = {
    "__lt__": _compare(lambda a, b: a < b),
    "__le__": _compare(lambda a, b: a <= b),
    "__gt__": _compare(lambda a, b: a > b),
    "__ge__": _compare(lambda a, b: a >= b),
}


def _frozen_error() -> type[AttributeError]:
    import sys

    standard = sys.modules.get("dataclasses")
    return standard.FrozenInstanceError if standard is not None else FrozenInstanceError


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise _frozen_error()(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise _frozen_error()(f"cannot delete field {name!r}")


# ------------------------------------------------------------ what ``dataclasses`` reads


class _LazyFields:
    """``__dataclass_fields__``: standard ``Field`` objects, made on first access."""

    def __get__(self, instance: Any, owner: type) -> dict[str, Any]:
        import dataclasses

        made: dict[str, Any] = {}
        for mine in owner.__record_fields__:
            f = dataclasses.field(
                default=dataclasses.MISSING if mine.default is MISSING else mine.default,
                default_factory=(
                    dataclasses.MISSING if mine.default_factory is MISSING else mine.default_factory
                ),
                init=mine.init,
                repr=mine.repr,
                compare=mine.compare,
                hash=mine.hash,
            )
            f.name, f.type = mine.name, mine.type
            f._field_type = dataclasses._FIELD  # type: ignore[attr-defined]
            f.kw_only = False  # type: ignore[attr-defined]
            made[mine.name] = f
        type.__setattr__(owner, "__dataclass_fields__", made)
        return made


_PARAMS: dict[tuple[bool, ...], Any] = {}


class _LazyParams:
    """``__dataclass_params__``: the standard parameters object for the record's options."""

    def __get__(self, instance: Any, owner: type) -> Any:
        options = owner.__record_options__
        if options not in _PARAMS:
            import dataclasses

            init, repr_, eq, order, frozen = options
            probe = dataclasses.dataclass(init=init, repr=repr_, eq=eq, order=order, frozen=frozen)(
                type("_Probe", (), {})
            )
            _PARAMS[options] = probe.__dataclass_params__
        params = _PARAMS[options]
        type.__setattr__(owner, "__dataclass_params__", params)
        return params


def is_record(obj: Any) -> bool:
    """Whether ``obj`` (a class or an instance) is a record or a standard dataclass."""
    cls = obj if isinstance(obj, type) else type(obj)
    return hasattr(cls, "__record_fields__") or "__dataclass_fields__" in dir(cls)


def replace(obj: Any, /, **changes: Any) -> Any:
    """A copy of ``obj`` with ``changes`` (``dataclasses.replace``, without its import cost
    for records; standard dataclasses are handed to it)."""
    fields = getattr(type(obj), "__record_fields__", None)
    if fields is None:
        import dataclasses

        return dataclasses.replace(obj, **changes)
    for f in fields:
        if not f.init:
            if f.name in changes:
                raise ValueError(
                    f"field {f.name} is declared with init=False, it cannot be replaced"
                )
        elif f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    return type(obj)(**changes)


def fields(obj: Any) -> tuple[Field, ...]:
    """The fields of a record (a class or an instance), in order (``dataclasses.fields``)."""
    cls = obj if isinstance(obj, type) else type(obj)
    found = getattr(cls, "__record_fields__", None)
    if found is None:
        raise TypeError(f"{cls.__name__} is not a record")
    return tuple(found)


def asdict(obj: Any) -> Any:
    """``obj`` as plain data (``dataclasses.asdict`` for records): records become dicts,
    lists, tuples and dicts are converted item by item, anything else is kept as it is
    (records hold immutable values)."""
    found = getattr(type(obj), "__record_fields__", None)
    if found is not None:
        return {f.name: asdict(getattr(obj, f.name)) for f in found}
    if isinstance(obj, (list, tuple)):
        return type(obj)(asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {asdict(k): asdict(v) for k, v in obj.items()}
    return obj
