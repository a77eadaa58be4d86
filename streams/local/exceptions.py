"""What can go wrong with the local services."""


class ServiceError(RuntimeError):
    """A local service cannot be fetched, configured, started or reached.

    The message is one line or a log tail; it says what to install, which
    setting to change or where the log is, and never holds a secret.
    """
