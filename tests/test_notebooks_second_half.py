"""The second half of the notebooks (every other one, from the second), executed in a file of its
own so that pytest-xdist's ``--dist loadfile`` can give it to the other worker."""

import pytest

from tests.test_notebooks import NOTEBOOKS, run_notebook

SECOND_HALF = NOTEBOOKS[1::2]


def test_the_halves_cover_every_notebook():
    from tests.test_notebooks import FIRST_HALF

    assert sorted(FIRST_HALF + SECOND_HALF) == sorted(NOTEBOOKS)


@pytest.mark.notebook
@pytest.mark.parametrize("path", SECOND_HALF, ids=[p.stem for p in SECOND_HALF])
def test_notebook_executes(path):
    run_notebook(path)
