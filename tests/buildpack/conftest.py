"""Fixtures for the buildpack tests live in ``bp_support`` (importable by the tests too)."""

from bp_support import lifecycle, platform

__all__ = ["lifecycle", "platform"]
