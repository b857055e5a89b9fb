"""Moved to :mod:`tests.helpers.login`; kept as a re-export for modules not yet moved."""

from tests.helpers.login import (
    Login,
    admin_cli,
    assert_rc_error,
    demo_lead,
    demo_login,
    other_account,
    request,
)

__all__ = [
    "Login",
    "admin_cli",
    "assert_rc_error",
    "demo_lead",
    "demo_login",
    "other_account",
    "request",
]
