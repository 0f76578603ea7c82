"""The ingester's own log lines in the Prefect run logs, at Prefect's level (INFO by default).

``PREFECT_LOGGING_EXTRA_LOGGERS`` (prefect.yaml sets it) gives each listed logger the API handler of
``prefect.extra``, but not its level (Prefect 3.9.1, ``logging/configuration.py``: only the handlers
are copied). Our loggers set no level, so they inherit the root logger's, WARNING in Prefect's
``logging.yml``: every INFO line was dropped before it reached a handler, and the UI showed WARNING and
above only. Raising the root level (``PREFECT_LOGGING_ROOT_LEVEL=INFO``) lets them through, but also
every library's INFO lines. So each flow gives the extra loggers that have no level of their own the
level of ``prefect.extra`` (``PREFECT_LOGGING_LEVEL``) when it starts.
"""

from __future__ import annotations

import logging

from prefect.settings import PREFECT_LOGGING_EXTRA_LOGGERS, PREFECT_LOGGING_LEVEL


def route_domain_logs() -> list[str]:
    """Give the extra loggers without a level of their own ``PREFECT_LOGGING_LEVEL`` (``prefect.extra``'s
    level); return their names."""
    level = logging.getLevelName(str(PREFECT_LOGGING_LEVEL.value()).upper())
    if not isinstance(level, int):  # Prefect validates the setting; a stray name keeps INFO
        level = logging.INFO
    routed = []
    for name in PREFECT_LOGGING_EXTRA_LOGGERS.value():
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
            routed.append(name)
    return routed
