"""Extension objects, created once and bound to the app in ``create_app``."""

from flask import request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from portal.core.db import Base


def _client_address() -> str:
    # ProxyFix (PORTAL_PROXY_COUNT) has already put the real client address here.
    return request.remote_addr or "unknown"


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=_client_address)
