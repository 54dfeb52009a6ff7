"""Database: engine, unit of work, declarative base. Alembic (db/migrations) owns the schema."""

from sscard.db.base import Base
from sscard.db.session import UnitOfWork, get_engine, unit_of_work

__all__ = ["Base", "UnitOfWork", "get_engine", "unit_of_work"]
