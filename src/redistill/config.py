"""Stage configs: one pydantic model per stage, each field's help and limits written once.

The same model backs the stage's ``run`` function, its CLI options (``redistill.cli.options.config_command``
makes them from the fields), ``--config FILE.yaml`` (flags on top) and its block in a run config.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from redistill.errors import RedistillError
from redistill.yamlfiles import read_yaml

C = TypeVar("C", bound="StageConfig")
_RAW: ContextVar[bool] = ContextVar("raw_validation_errors", default=False)


@contextmanager
def raw_errors() -> Iterator[None]:
    """Inside, a stage config's bad value raises pydantic's ``ValidationError`` (not ``RedistillError``), so a
    config nesting it (the run config) reports the full path: ``field 'augment.hypotheses'``."""
    token = _RAW.set(True)
    try:
        yield
    finally:
        _RAW.reset(token)


def describe(e: ValidationError, flags: dict[str, str] | None = None, prefix: str = "") -> str:
    """The first problem of a validation error, naming the field (and its flag): ``field 'x' (--x): ...``."""
    first = e.errors()[0]
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    if not first["loc"]:
        return f"{prefix}{msg}{more}"
    where = ".".join(str(p) for p in first["loc"])
    flag = (flags or {}).get(str(first["loc"][0]))
    return f"{prefix}field '{where}'" + (f" ({flag})" if flag else "") + f": {msg}{more}"


class StageConfig(BaseModel):
    """Base of the stage configs: unknown keys are errors; a bad value raises ``RedistillError`` naming
    the field and its command-line flag."""

    model_config = ConfigDict(extra="forbid")
    FLAGS: ClassVar[dict[str, str]] = {}
    """Flags whose name is not ``--`` + the field name with dashes (``suites`` -> ``--suite``)."""

    def __init__(self, **values: Any):
        try:
            super().__init__(**values)
        except ValidationError as e:
            if _RAW.get():
                raise
            raise RedistillError(describe(e, self.flag_names())) from None

    @classmethod
    def flag(cls, name: str) -> str:
        return cls.FLAGS.get(name, "--" + name.replace("_", "-"))

    @classmethod
    def flag_names(cls) -> dict[str, str]:
        return {name: cls.flag(name) for name in cls.model_fields}

    @classmethod
    def load(cls: type[C], yaml_path: str | Path | None = None, flags: dict[str, Any] | None = None) -> C:
        """A YAML file of this config's keys first (if given), then the flags that were given (not None)."""
        values = dict(read_yaml(yaml_path)) if yaml_path is not None else {}
        values.update({k: v for k, v in (flags or {}).items() if v is not None})
        try:
            with raw_errors():
                return cls.model_validate(values)
        except ValidationError as e:
            where = f"{yaml_path}: " if yaml_path is not None else ""
            raise RedistillError(describe(e, cls.flag_names(), where)) from None

    def check(self) -> None:
        """Validate again (after fields were assigned): what construction checks, as ``RedistillError``."""
        try:
            with raw_errors():
                type(self).model_validate(self.model_dump())
        except ValidationError as e:
            raise RedistillError(describe(e, self.flag_names())) from None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
