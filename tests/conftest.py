import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_THEORY = ROOT.parent / "shared" / "THEORY.md"

os.environ.setdefault("MPLBACKEND", "Agg")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def theory_md_text():
    if not SHARED_THEORY.exists():
        pytest.skip("shared/THEORY.md not beside the checkout")
    return SHARED_THEORY.read_text(encoding="utf-8")
