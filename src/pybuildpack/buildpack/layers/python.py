"""The ``python`` layer: the runtime, for the build, the image and the next build.

``[types] build = launch = cache = true``. Its metadata is exactly ``python_version``, ``arch``,
``distro_name`` and ``distro_version``; when a restored layer's metadata equals this build's,
the layer is reused untouched (nothing downloaded or extracted). Otherwise it is discarded,
listing every reason (architecture, then OS, then Python version), and installed anew.
Metadata of another shape (an older release's) also discards it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pybuildpack._record import asdict, dataclass, fields
from pybuildpack.buildpack.env import SOURCE_DATE_EPOCH, LayerEnvVar, write_layer_env
from pybuildpack.buildpack.layers import Target, read_metadata, write_layer_toml
from pybuildpack.buildpack.log import BuildLog
from pybuildpack.buildpack.runtime import Installer, install_runtime
from pybuildpack.version import PythonVersion

NAME = "python"


@dataclass(frozen=True)
class PythonLayerMetadata:
    python_version: str
    arch: str
    distro_name: str
    distro_version: str

    @classmethod
    def parse(cls, data: dict[str, Any] | None) -> PythonLayerMetadata | None:
        names = {f.name for f in fields(cls)}
        if not data or set(data) != names or not all(isinstance(v, str) for v in data.values()):
            return None
        return cls(**data)


def discard_reasons(old: PythonLayerMetadata, new: PythonLayerMetadata) -> list[str]:
    reasons = []
    if old.arch != new.arch:
        reasons.append(f"The CPU architecture has changed from {old.arch} to {new.arch}")
    if (old.distro_name, old.distro_version) != (new.distro_name, new.distro_version):
        reasons.append(
            f"The OS has changed from {old.distro_name}-{old.distro_version} "
            f"to {new.distro_name}-{new.distro_version}"
        )
    if old.python_version != new.python_version:
        reasons.append(
            f"The Python version has changed from {old.python_version} to {new.python_version}"
        )
    return reasons


def layer_env(layer: Path, version: PythonVersion) -> list[LayerEnvVar]:
    return [
        LayerEnvVar("all", "PYTHONUNBUFFERED", "override", "1"),
        LayerEnvVar(
            "build", "CPATH", "prepend", str(layer / "include" / f"python{version.series}"), ":"
        ),
        LayerEnvVar("build", "PKG_CONFIG_PATH", "prepend", str(layer / "lib" / "pkgconfig"), ":"),
        LayerEnvVar("build", "SOURCE_DATE_EPOCH", "default", SOURCE_DATE_EPOCH),
    ]


def contribute(
    layers_dir: Path,
    version: PythonVersion,
    target: Target,
    *,
    stack: str | None,
    log: BuildLog,
    installer: Installer | None = None,
    settings: Mapping[str, str] | None = None,
) -> tuple[Path, str]:
    """Provide the runtime in ``<layers>/python``; return (layer dir, cache status)."""
    layer = layers_dir / NAME
    new = PythonLayerMetadata(str(version), target.arch, target.distro_name, target.distro_version)
    restored = read_metadata(layers_dir, NAME)
    old = PythonLayerMetadata.parse(restored)
    if old == new and (layer / "bin" / "python3").exists():
        log.info(f"Using cached Python {version}")
        status = "reused"
    else:
        if old is not None and layer.exists():
            log.info(f"Discarding cached Python {old.python_version} since:")
            log.info("\n".join(f" - {r}" for r in discard_reasons(old, new)))
            status = "discarded"
        elif restored is not None and layer.exists():
            log.info("Discarding cached Python since its metadata is not understood")
            status = "discarded"
        else:
            status = "empty"
        shutil.rmtree(layer, ignore_errors=True)
        (layers_dir / f"{NAME}.toml").unlink(missing_ok=True)
        log.info(f"Installing Python {version}")
        installed = install_runtime(
            version, layer, stack=stack, arch=target.arch, installer=installer, settings=settings
        )
        if installed.bytes:
            log.info(f"Downloaded {installed.bytes / 1e6:.1f} MB in {installed.seconds:.1f}s")
    write_layer_env(layer, layer_env(layer, version))
    write_layer_toml(layers_dir, NAME, build=True, launch=True, cache=True, metadata=asdict(new))
    return layer, status
