import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from parcelguard.config import Settings
from parcelguard.storage import connect_store, current_revision, head_revision
from parcelguard.storage.schema import metadata


def test_migrated_schema_matches_the_tables_the_code_queries(settings: Settings) -> None:
    engine = connect_store(settings.db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    engine = connect_store(f"sqlite:///{tmp_path / 'x.db'}", create=True)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        engine.dispose()


def test_an_unreachable_database_is_a_clear_error() -> None:
    import pytest

    from parcelguard.core.errors import StoreUnavailable

    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1/nowhere: cannot connect"):
        connect_store("postgresql+psycopg://postgres:secret@127.0.0.1:1/nowhere")


def test_the_password_never_appears_in_the_error() -> None:
    import pytest

    from parcelguard.core.errors import StoreUnavailable

    with pytest.raises(StoreUnavailable) as info:
        connect_store("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/nowhere")
    assert "hunter2" not in info.value.message


def test_bad_urls_are_bad_input() -> None:
    import pytest

    from parcelguard.core.errors import BadInput

    with pytest.raises(BadInput, match="PARCELGUARD_DB"):
        connect_store("not a url")
    with pytest.raises(BadInput, match="unsupported backend"):
        connect_store("nosuchdb://x/y")


def test_tables_exist(settings: Settings) -> None:
    engine = connect_store(settings.db_url)
    try:
        names = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"waybills", "data_keys", "index_keys", "shred_events"} <= names


def test_an_audit_log_written_before_0003_survives_the_upgrade_and_verifies(tmp_path) -> None:
    from datetime import UTC, datetime

    from parcelguard.audit.entry import AuditEntry
    from parcelguard.audit.log import AuditLog
    from parcelguard.storage import upgrade

    engine = connect_store(f"sqlite:///{tmp_path / 'old.db'}", create=True)
    try:
        upgrade(engine, "0002")
        log = AuditLog(engine)
        moment = datetime(2016, 10, 3, tzinfo=UTC)
        log.append([AuditEntry.at(0, moment, actor=f"E{i}", action="reveal") for i in range(37)])
        before = log.head()
        upgrade(engine)
        with engine.connect() as conn:
            tables = dict(
                conn.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE name LIKE 'audit_%'"
                ).all()
            )
        assert "WITHOUT ROWID" in tables["audit_nodes"]
        assert "seq INTEGER NOT NULL PRIMARY KEY" in tables["audit_entries"]
        assert log.head() == before
        assert log.verify().ok
        log.append([AuditEntry.at(0, moment, actor="E99", action="reveal")])
        assert log.verify().tree_size == 38
    finally:
        engine.dispose()


def test_a_relaxed_write_never_leaves_its_connection_relaxed(tmp_path) -> None:
    """``flushed_by_a_later_commit`` skips one fsync; the next transaction is FULL again."""
    from parcelguard.storage import begin_write

    engine = connect_store(f"sqlite:///{tmp_path / 'sync.db'}", create=True)
    engine.pool.dispose()
    try:
        with begin_write(engine, flushed_by_a_later_commit=True) as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with begin_write(engine) as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    finally:
        engine.dispose()


def test_the_guards_windows_survive_0007_and_runs_start_empty(tmp_path) -> None:
    """0007 adds the runs table beside the windows a running guard already holds."""
    from parcelguard.reveal.guard.counters import Run
    from parcelguard.reveal.guard.counters_store import StoreCounters
    from parcelguard.storage import upgrade

    engine = connect_store(f"sqlite:///{tmp_path / 'old.db'}", create=True)
    try:
        upgrade(engine, "0006")
        now = 1_800_000_000
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO guard_counts (actor, kind, bucket, n) VALUES ('E1', 'sensitive', ?, 4)",
                (now - 120,),
            )
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        counters = StoreCounters(engine)
        got = counters.record({"E1": {"sensitive": 1}}, {"E1": [7, 8]}, now)
        assert got.counts == {"E1": {"sensitive": (4, 4, 4)}}
        assert got.runs == {"E1": None}
        assert counters.record({}, {"E1": [9]}, now + 1).runs == {"E1": Run(8, 2, now)}
    finally:
        engine.dispose()
