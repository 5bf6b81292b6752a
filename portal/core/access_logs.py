"""Access logs without what people typed: paths are logged, query strings are not.

Search words travel in the query string (``/search?q=...``, ``/stories?q=...``) so that results
can be linked to and the Back button works. Access logs are kept longer and read more widely
than anything else, so the words must not land in them. The gunicorn config beside ``wsgi.py``
(``gunicorn.conf.py``) logs ``%(U)s``, the path alone, and no referrer; this filter, on the
development server's request log (``werkzeug``) and gunicorn's (``gunicorn.access``), cuts any
query string that still reaches a log line, in a request line or in a referrer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")
ACCESS_ATOMS = "portal_access_atoms"  # see core/logging_setup.py: AccessJsonFormatter

# A path, or a whole address, followed by its query string: keep the path, drop the rest.
_QUERY_STRING = re.compile(r"((?:https?://[^\s/?\"']+)?/[^\s?\"']*)\?[^\s\"']*")


def without_query_strings(line: str) -> str:
    """'"GET /search?q=my+words HTTP/1.1" 200' -> '"GET /search HTTP/1.1" 200'."""
    return _QUERY_STRING.sub(r"\1", line)


class QueryStringFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            if isinstance(record.args, Mapping):  # gunicorn's atoms: the JSON access log picks safe ones
                setattr(record, ACCESS_ATOMS, record.args)
            record.msg, record.args = without_query_strings(message), None
        return True


_FILTER = QueryStringFilter()


def keep_query_strings_out() -> None:
    """Attach the filter to the access loggers (once, however many apps are made)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
