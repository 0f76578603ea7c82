"""Prefect tasks: each unpacks its input, makes one domain call, and carries the retry policy.

Importing this package registers Prefect Secret blocks as the source of the secret settings the
environment leaves unset (``tasks.secrets``).
"""

from common.settings import register_secret_lookup
from tasks.secrets import prefect_secret

register_secret_lookup(prefect_secret)
