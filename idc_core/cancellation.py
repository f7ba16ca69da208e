"""The one base of every "stopped on request" error, so that callers catch a single type."""


class Cancelled(Exception):
    """The caller's `should_stop()` became true; the work stopped between two steps."""
