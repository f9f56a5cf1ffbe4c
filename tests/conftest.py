"""Every test starts from fresh name counters and a fixed seed."""

import pytest

import fcnet


@pytest.fixture(autouse=True)
def fresh_session():
    fcnet.backend.clear_session()
    fcnet.utils.set_random_seed(1234)
    yield
