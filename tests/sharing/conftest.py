"""The real push service fixture, shared with the reminders tests."""

from tests.reminders.conftest import push_service  # noqa: F401
