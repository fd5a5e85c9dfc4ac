import pytest

from tests.helpers.ref_smp import one_torch_thread


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """torch on one intra-op thread for these modules (tests/helpers/ref_smp.one_torch_thread says why)."""
    yield from one_torch_thread()
