"""CNB layers (Buildpack API 0.10): ``<layers>/<name>/`` plus ``<layers>/<name>.toml``.

The lifecycle restores ``<name>.toml`` *without* its ``[types]`` table (and the directory only
for cache layers), so a buildpack must write the types again on every build for a layer to
be used; the ``[metadata]`` table is how a build recognises what a previous one left.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from pybuildpack._record import dataclass

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Target:
    arch: str
    distro_name: str
    distro_version: str

    @property
    def os_name(self) -> str:
        return f"{self.distro_name}-{self.distro_version}"


def read_metadata(layers_dir: Path, name: str) -> dict[str, Any] | None:
    """The restored ``[metadata]`` of a layer, ``{}`` if none, ``None`` without a toml."""
    path = layers_dir / f"{name}.toml"
    try:
        document = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    metadata = document.get("metadata", {})
    return metadata if isinstance(metadata, dict) else {}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def write_layer_toml(
    layers_dir: Path,
    name: str,
    *,
    build: bool,
    launch: bool,
    cache: bool,
    metadata: dict[str, Any],
) -> None:
    lines = [
        "[types]",
        f"build = {_toml_value(build)}",
        f"launch = {_toml_value(launch)}",
        f"cache = {_toml_value(cache)}",
        "",
        "[metadata]",
        *(f"{k} = {_toml_value(v)}" for k, v in sorted(metadata.items())),
    ]
    path = layers_dir / f"{name}.toml"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", "utf-8")
    tmp.replace(path)


def remove_layer(layers_dir: Path, name: str) -> None:
    shutil.rmtree(layers_dir / name, ignore_errors=True)
    (layers_dir / f"{name}.toml").unlink(missing_ok=True)
