"""Fixtures shared by the provisioning tests."""

from __future__ import annotations

import pytest

from pybuildpack.provision.systar import system_tar


@pytest.fixture(params=["python", "tar"])
def tar(request: pytest.FixtureRequest) -> str | None:
    """Each unpacker in turn: None (pybuildpack's own) or the system tar's path."""
    if request.param == "python":
        return None
    found = system_tar("auto")
    if found is None:
        pytest.skip("no GNU tar or bsdtar on PATH")
    return found
