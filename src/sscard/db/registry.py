"""Import every domain's models so ``Base.metadata`` is complete (Alembic, tests, create checks).

Add a line here when a new domain gets a ``models.py``.
"""

from sscard.audit import models as audit_models  # noqa: F401
from sscard.captcha import models as captcha_models  # noqa: F401
from sscard.cards import models as cards_models  # noqa: F401
from sscard.credentials.pin import models as pin_models  # noqa: F401
from sscard.credentials.query_password import models as query_password_models  # noqa: F401
from sscard.db.base import Base
from sscard.imports import models as imports_models  # noqa: F401
from sscard.keys import models as keys_models  # noqa: F401
from sscard.notify import models as notify_models  # noqa: F401
from sscard.people import models as people_models  # noqa: F401
from sscard.policy import models as policy_models  # noqa: F401
from sscard.regions import models as regions_models  # noqa: F401
from sscard.security import models as security_models  # noqa: F401
from sscard.staff import models as staff_models  # noqa: F401
from sscard.terminals import models as terminals_models  # noqa: F401

metadata = Base.metadata
