"""Extension objects, created once and bound to the app in ``create_app``."""

from typing import TYPE_CHECKING

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

# Every model subclasses ``Model``. At run time it is ``db.Model``, the class Flask-SQLAlchemy
# builds from ``Base``'s body plus its own mixins (bind keys, ``query``). Type checkers cannot
# use a class made at run time and held on an instance as a base class (mypy reports "Name
# db.Model is not defined", python/mypy#8603), so for them ``Model`` is the same thing written
# statically: Flask-SQLAlchemy's model mixin over the declarative ``Base``, which is what
# types ``Mapped[...]`` columns and relationships.
if TYPE_CHECKING:
    from flask_sqlalchemy.model import Model as _FlaskSQLAlchemyModel

    class Model(_FlaskSQLAlchemyModel, Base):
        __abstract__ = True

else:
    Model = db.Model
