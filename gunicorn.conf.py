"""gunicorn's settings for the portal, read from the working directory (``gunicorn wsgi:app``).

The access log names the path without its query string (``%(U)s``, not ``%(r)s``) and leaves out
the referrer, because search words travel in query strings (see portal/core/access_logs.py).
"""

access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'
