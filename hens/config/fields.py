"""The one helper set of the config schema: typed readers of config values and the spec base class.

A config group is ONE frozen dataclass (a :class:`Group`): each field that comes from a config key is declared
with :func:`setting` — its :class:`Kind` (how the value is checked and converted), its default, what an explicit
``null`` means and a short doc; fields computed from other keys are declared with :func:`derived`, nested groups
with :func:`group`.  :meth:`Group.from_config` reads every key through the schema, :meth:`Group.derive` computes
the derived fields, and :meth:`Group.check` (run on every construction) holds the rules between fields of the
group.  Every error is a one-line :class:`~hens.errors.ConfigError` that names the full key and the fix, e.g.
``ensemble.n_steps=0 must be an integer ≥ 1``.

The schema is also what the tests compare with the YAML files in ``configs/`` (:func:`schema_keys`), so a key
cannot be added to one without the other.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from hens.errors import ConfigError

__all__ = [
    "REJECT",
    "REQUIRED",
    "Anything",
    "Choice",
    "DateTime",
    "Flag",
    "Group",
    "Int",
    "Kind",
    "ListOf",
    "MapOf",
    "Number",
    "Pattern",
    "Setting",
    "Text",
    "derived",
    "group",
    "join_key",
    "schema_groups",
    "schema_keys",
    "setting",
]


class _Marker:
    """A named sentinel (shows its name in reprs and docs)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: ``default=REQUIRED``: the key has no default; a missing or null value is an error.
REQUIRED: Any = _Marker("REQUIRED")
#: ``null=REJECT``: an explicit ``null`` is an error (the default for settings).
REJECT: Any = _Marker("REJECT")
_ABSENT: Any = _Marker("ABSENT")


class Invalid(Exception):
    """Raised by a :class:`Kind` for a bad value; :class:`Setting` turns it into the one-line ConfigError."""

    def __init__(self, key: str, value: Any, what: str) -> None:
        super().__init__(f"{key}={value!r} must be {what}")
        self.key, self.value, self.what = key, value, what


def join_key(prefix: str, key: str) -> str:
    """``prefix.key`` (or ``key`` at the root)."""
    return f"{prefix}.{key}" if prefix else key


def _plain(value: Any) -> Any:
    """OmegaConf containers as plain Python (interpolations resolved)."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _fresh(value: Any) -> Any:
    """A copy of a mutable default (a dict or list), so that no two specs share one."""
    return type(value)(value) if isinstance(value, (dict, list)) else value


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


# ------------------------------------------------------------------------------------------------- kinds


class Kind:
    """How one config value is checked and converted; ``what`` completes "must be …" in error messages."""

    what: str = "a value"

    def read(self, value: Any, key: str) -> Any:
        """The typed value of ``value`` (never None: nulls are handled by :class:`Setting`), else :class:`Invalid`."""
        raise NotImplementedError


@dataclass(frozen=True)
class Anything(Kind):
    """Any value, passed on unchanged — for keys a domain object validates itself (e.g. the output encoding)."""

    what: str = "a value"

    def read(self, value: Any, key: str) -> Any:
        return value


@dataclass(frozen=True)
class Flag(Kind):
    """``true`` or ``false`` (not 0/1 or strings)."""

    what: str = "true or false"

    def read(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise Invalid(key, value, self.what)
        return value


@dataclass(frozen=True)
class Int(Kind):
    """An integer (not a bool or a float), at least ``minimum`` when given."""

    minimum: int | None = None

    @property
    def what(self) -> str:  # type: ignore[override]
        return "an integer" if self.minimum is None else f"an integer ≥ {self.minimum}"

    def read(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(key, value, self.what)
        if self.minimum is not None and value < self.minimum:
            raise Invalid(key, value, self.what)
        return int(value)


@dataclass(frozen=True)
class Number(Kind):
    """A real number (int or float, not a bool, never NaN) → float, within optional bounds.

    ``low_open``/``high_open`` exclude the bound itself, e.g. ``Number(0, 1, low_open=True)`` is (0, 1].
    """

    minimum: float | None = None
    maximum: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def what(self) -> str:  # type: ignore[override]
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"a number in {'(' if self.low_open else '['}{lo:g}, {hi:g}{')' if self.high_open else ']'}"
        if lo is not None:
            return f"a number {'>' if self.low_open else '≥'} {lo:g}"
        if hi is not None:
            return f"a number {'<' if self.high_open else '≤'} {hi:g}"
        return "a number"

    def read(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise Invalid(key, value, self.what)
        x = float(value)
        lo, hi = self.minimum, self.maximum
        if lo is not None and not (x > lo if self.low_open else x >= lo):
            raise Invalid(key, value, self.what)
        if hi is not None and not (x < hi if self.high_open else x <= hi):
            raise Invalid(key, value, self.what)
        return x


@dataclass(frozen=True)
class Text(Kind):
    """A string; numbers are accepted and written as strings (paths, names, SLURM times)."""

    what: str = "a string"

    def read(self, value: Any, key: str) -> str:
        if not _is_scalar(value):
            raise Invalid(key, value, self.what)
        return str(value)


@dataclass(frozen=True)
class Choice(Kind):
    """One of ``options``; with ``lower`` the value is matched and returned in lower case."""

    options: tuple[str, ...]
    lower: bool = False

    @property
    def what(self) -> str:  # type: ignore[override]
        return f"one of {', '.join(self.options)}"

    def read(self, value: Any, key: str) -> str:
        text = str(value).lower() if self.lower and _is_scalar(value) else value
        if not _is_scalar(text) or str(text) not in self.options:
            raise Invalid(key, value, self.what)
        return str(text)


@dataclass(frozen=True)
class Pattern(Kind):
    """A string matching the regular expression ``regex`` in full; ``what`` says it in words."""

    regex: str
    what: str = "a string"

    def read(self, value: Any, key: str) -> str:
        if not _is_scalar(value) or re.fullmatch(self.regex, str(value)) is None:
            raise Invalid(key, value, self.what)
        return str(value)


@dataclass(frozen=True)
class DateTime(Kind):
    """An ISO 8601 date-time → ``numpy.datetime64[ns]`` (or the text itself, checked, with ``as_text``)."""

    as_text: bool = False
    what: str = "an ISO 8601 date-time (e.g. 2000-03-01T00:00)"

    def read(self, value: Any, key: str) -> np.datetime64 | str:
        try:
            parsed = np.datetime64(str(value), "ns") if _is_scalar(value) else np.datetime64("NaT")
        except ValueError:
            parsed = np.datetime64("NaT")
        if np.isnat(parsed):
            raise ConfigError(f"{key}: {value!r} is not {self.what}")
        return str(value) if self.as_text else parsed


@dataclass(frozen=True)
class ListOf(Kind):
    """A list of ``item`` values → tuple; a single value counts as a list of one.

    ``nonempty`` rejects ``[]``; ``duplicates`` is ``keep``, ``error`` or ``drop`` (drop also sorts).
    Items are named ``key[i]`` in errors.
    """

    item: Kind
    nonempty: bool = True
    duplicates: str = "keep"

    @property
    def what(self) -> str:  # type: ignore[override]
        return "a non-empty list" if self.nonempty else "a list"

    def read(self, value: Any, key: str) -> tuple[Any, ...]:
        if _is_scalar(value):
            value = [value]
        if not isinstance(value, list) or (self.nonempty and not value):
            raise Invalid(key, value, self.what)
        items = tuple(self.item.read(v, f"{key}[{i}]") for i, v in enumerate(value))
        if self.duplicates == "drop":
            return tuple(sorted(set(items)))
        if self.duplicates == "error" and len(set(items)) != len(items):
            raise ConfigError(f"{key} has duplicates; list each value once")
        return items


@dataclass(frozen=True)
class MapOf(Kind):
    """A mapping name → ``value`` kind → dict with string keys; entries are named ``key.name`` in errors.

    Entries are read by ``value`` including nulls (:class:`Anything`, the default, keeps them).
    """

    value: Kind = field(default_factory=Anything)
    what: str = "a mapping like {name: value}"

    def read(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise Invalid(key, value, self.what)
        return {str(name): self.value.read(v, f"{key}.{name}") for name, v in value.items()}


# ------------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class Setting:
    """One config key of a group: how it is read, its default and its doc.

    Attributes:
        kind: how a value is checked and converted.
        doc: what the key means (one short line).
        key: the config key relative to the group; None = the field name.
        default: the value when the key is absent (``REQUIRED``: none, the key must be set).
        null: what an explicit ``null`` reads as (``REJECT``: an error; ``None`` for optional keys).
        words: special words and the values they stand for, e.g. ``{"auto": "auto"}`` next to an integer.
        fix: appended to error messages (``{key}`` is replaced by the full key).
        cli_only: no YAML file sets the key; it is given on the command line (``++key=…``).
    """

    kind: Kind
    doc: str
    key: str | None = None
    default: Any = REQUIRED
    null: Any = REJECT
    words: Mapping[str, Any] = field(default_factory=dict)
    fix: str = ""
    cli_only: bool = False

    def what(self) -> str:
        """The accepted values in words, for messages and docs."""
        parts = [*self.words, self.kind.what, *(["null"] if self.null is not REJECT else [])]
        return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} or {parts[-1]}"

    def _fix(self, key: str) -> str:
        return f"; {self.fix.replace('{key}', key)}" if self.fix else ""

    def read(self, cfg: DictConfig, key: str) -> Any:
        """The typed value of ``key`` in ``cfg`` (its default when absent); ConfigError naming the key."""
        try:
            raw = _plain(OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=True))
        except MissingMandatoryValue:  # ??? in the YAML: the user must set it
            raise ConfigError(f"config key {key} is required{self._fix(key) or f'; set it with {key}=...'}") from None
        except OmegaConfBaseException as err:  # e.g. an interpolation that does not resolve
            raise ConfigError(f"{key}: {' '.join(str(err).split())}; fix the value of {key}") from None
        if raw is _ABSENT:
            if self.default is REQUIRED:
                raise ConfigError(f"config key {key} is required; set it with {key}=...")
            return _fresh(self.default)
        return self.convert(raw, key)

    def convert(self, value: Any, key: str) -> Any:
        """A plain value (from a config or a YAML file) read like :meth:`read` reads the config's."""
        if value is None:
            if self.null is not REJECT:
                return _fresh(self.null)
            if self.default is REQUIRED:
                raise ConfigError(f"config key {key} is required; set it with {key}=...")
            raise ConfigError(f"{key}=None must be {self.what()}{self._fix(key)}")
        if isinstance(value, str) and value in self.words:
            return self.words[value]
        try:
            return self.kind.read(value, key)
        except Invalid as err:
            if err.key != key and not (self.words and isinstance(value, str)):  # a bad item of a list or mapping
                raise ConfigError(f"{err.key}={err.value!r} must be {err.what}{self._fix(key)}") from None
            raise ConfigError(f"{key}={value!r} must be {self.what()}{self._fix(key)}") from None


def setting(
    kind: Kind,
    doc: str,
    *,
    default: Any = REQUIRED,
    null: Any = REJECT,
    key: str | None = None,
    words: Mapping[str, Any] | None = None,
    fix: str = "",
    cli_only: bool = False,
) -> Any:
    """A dataclass field read from a config key (see :class:`Setting`); its default is the dataclass default."""
    spec = Setting(kind, doc, key, default, null, dict(words or {}), fix, cli_only)
    metadata = {"setting": spec, "doc": doc}
    if default is REQUIRED:
        return field(metadata=metadata)
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: _fresh(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def derived(doc: str, default: Any = MISSING) -> Any:
    """A dataclass field computed by :meth:`Group.derive` from the keys (not a config key itself)."""
    return field(default=default, metadata={"doc": doc})


def group(spec: type[Group], doc: str, *, key: str | None = None) -> Any:
    """A dataclass field holding the nested group ``spec``, read from the sub-config ``key`` (default: the
    field name)."""
    return field(metadata={"group": spec, "group_key": key, "doc": doc})


# ---------------------------------------------------------------------------------------------------- groups

G = TypeVar("G", bound="Group")


class Group:
    """Base of the config specs (frozen dataclasses): read from a config by the schema, then checked.

    ``EXTRA_KEYS`` are keys the group reads that are not fields of the spec (e.g. ``enabled`` switches or an
    index that selects among values); :meth:`derive` consumes them.
    """

    EXTRA_KEYS: ClassVar[Mapping[str, Setting]] = {}

    @classmethod
    def from_config(cls: type[G], cfg: DictConfig, prefix: str = "") -> G:
        """Read every key of the group under ``prefix`` through the schema and build the (checked) spec."""
        values, extras = cls.read_keys(cfg, prefix)
        return cls(**cls.derive(values, extras, cfg, prefix))

    @classmethod
    def read_keys(cls, cfg: DictConfig, prefix: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
        """The typed values of the group's keys: (fields by name, ``EXTRA_KEYS`` by name), nested groups built."""
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if "setting" in f.metadata:
                s: Setting = f.metadata["setting"]
                values[f.name] = s.read(cfg, join_key(prefix, s.key or f.name))
            elif "group" in f.metadata:
                values[f.name] = f.metadata["group"].from_config(cfg, _group_key(f, prefix))
        extras = {name: s.read(cfg, join_key(prefix, s.key or name)) for name, s in cls.EXTRA_KEYS.items()}
        return values, extras

    @classmethod
    def derive(cls, values: dict[str, Any], extras: dict[str, Any], cfg: DictConfig, prefix: str) -> dict[str, Any]:
        """The constructor arguments from the values read (``values``: fields, ``extras``: ``EXTRA_KEYS``)."""
        return values

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Rules between fields of the group (raise ConfigError naming the keys); none by default."""


def _group_key(f: Field[Any], prefix: str) -> str:
    return join_key(prefix, f.metadata["group_key"] or f.name)


def schema_keys(cls: type[Group], prefix: str = "") -> Iterator[tuple[str, Setting]]:
    """Every config key of the group ``cls`` (nested groups and extra keys included) with its setting."""
    for f in fields(cls):  # type: ignore[arg-type]
        if "setting" in f.metadata:
            s: Setting = f.metadata["setting"]
            yield join_key(prefix, s.key or f.name), s
        elif "group" in f.metadata:
            yield from schema_keys(f.metadata["group"], _group_key(f, prefix))
    for name, s in cls.EXTRA_KEYS.items():
        yield join_key(prefix, s.key or name), s


def schema_groups(cls: type[Group], prefix: str = "") -> Iterator[str]:
    """The keys of the nested groups of ``cls`` (sub-configs that hold keys, not values)."""
    for f in fields(cls):  # type: ignore[arg-type]
        if "group" in f.metadata:
            key = _group_key(f, prefix)
            yield key
            yield from schema_groups(f.metadata["group"], key)
