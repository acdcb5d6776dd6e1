"""The image tests reuse the buildpack tests' helpers (bp_support, test_bp_e2e)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "buildpack"))
