"""The id of the HTTP request being served, visible to every log line written while serving it.

A module of its own: the request middleware sets it, the log record factory and the error
handlers read it, and none of them needs the others.
"""

from __future__ import annotations

import contextvars
import re

# What an inbound X-Request-ID may look like to be kept (anything else is replaced by a UUID).
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
