import pytest

from swalp.threads import single_threaded


@pytest.fixture(autouse=True)
def _one_thread():
    """swalp runs single-threaded (as run_experiment does)."""
    with single_threaded():
        yield
