from tests.logs import log_files  # noqa: F401  (a shared fixture)
