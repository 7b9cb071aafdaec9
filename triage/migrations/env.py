"""Alembic environment: every table of the service (triage.db.all_tables), on the URL the caller gives."""

from alembic import context

from triage.db import all_tables, make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url")

if context.is_offline_mode():
    context.configure(url=url, target_metadata=all_tables(), literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = make_engine(url)
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=all_tables(), render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    else:
        context.configure(connection=connectable, target_metadata=all_tables(), render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
