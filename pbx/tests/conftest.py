import pytest

from pbx.testing.fake_odoo import FakeOdoo


@pytest.fixture
def odoo():
    """Odoo's call webhook faked on 127.0.0.1 for one test."""
    server = FakeOdoo()
    yield server
    server.down()
