"""Import every domain's models so ``Base.metadata`` is complete (Alembic, tests, create checks).

Add a line here when a new domain gets a ``models.py``.
"""

from sscard.audit import models as audit_models  # noqa: F401
from sscard.captcha import models as captcha_models  # noqa: F401
from sscard.cards import models as cards_models  # noqa: F401
from sscard.credentials.pin import models as pin_models  # noqa: F401
from sscard.credentials.query_password import models as query_password_models  # noqa: F401
from sscard.db.base import Base
from sscard.debit import models as debit_models  # noqa: F401
from sscard.employers import models as employers_models  # noqa: F401
from sscard.idempotency import models as idempotency_models  # noqa: F401
from sscard.imports import models as imports_models  # noqa: F401
from sscard.insurance import models as insurance_models  # noqa: F401
from sscard.insurance.accounts import models as insurance_accounts_models  # noqa: F401
from sscard.insurance.discrepancies import models as discrepancy_models  # noqa: F401
from sscard.key_register import models as keys_models  # noqa: F401
from sscard.key_register.models import module_keys as security_models  # noqa: F401
from sscard.ledger import models as ledger_models  # noqa: F401
from sscard.notify import models as notify_models  # noqa: F401
from sscard.page_sessions import models as page_sessions_models  # noqa: F401
from sscard.people import models as people_models  # noqa: F401
from sscard.policy import models as policy_models  # noqa: F401
from sscard.regions import models as regions_models  # noqa: F401
from sscard.settlement import models as settlement_models  # noqa: F401
from sscard.staff import models as staff_models  # noqa: F401
from sscard.statements import models as statements_models  # noqa: F401
from sscard.terminal_registry import models as terminals_models  # noqa: F401

metadata = Base.metadata
