from django.db import close_old_connections, connection


def close_stale_connection() -> None:
    """For code run in worker threads, which no request cycle cleans up: drop a connection
    that broke or outlived CONN_MAX_AGE. Skipped inside a transaction (tests, callers'
    atomic blocks), where Django would otherwise close the connection under them."""
    if not connection.in_atomic_block:
        close_old_connections()
