"""Shared fixtures, one module per area (see tests/fixtures/)."""

pytest_plugins = [
    "tests.fixtures.attachments",
    "tests.fixtures.emulator",
    "tests.fixtures.site",
]
