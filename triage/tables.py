"""Every table of the service on one metadata (for migrations and tests)."""

from triage.auth import models as _auth  # noqa: F401 - registers the tables
from triage.bulk import models as _bulk  # noqa: F401
from triage.case.models import Base

__all__ = ["Base"]
