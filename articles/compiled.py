"""ORM queries compiled once and run many times, for the pages every reader request pays for.

Turning a queryset into SQL (resolving lookups and joins, an EXISTS subquery, the converters) costs an
uncached article page several times what SQLite or PostgreSQL then spend answering the query. The same
queryset always compiles to the same SQL, so the reader's hottest queries are compiled once for given
inputs and afterwards only executed: every request still reads the database, only the SQL text is reused,
and the rows pass through the ORM's own converters (aware datetimes, decoded JSON, booleans).

Compiled queries are kept per thread: a compiler belongs to its thread's connection, whose settings its
converters read, and a thread's queries go when the thread does.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connections
from django.db.models import QuerySet
from django.db.models.sql.compiler import SQLCompiler


@dataclass(frozen=True, eq=False)
class CompiledQuery:
    """A `values_list` queryset's SQL and parameters, ready to run again (see the module docstring)."""

    alias: str
    sql: str
    params: tuple[Any, ...]
    compiler: SQLCompiler
    converters: dict[int, tuple[list[Any], Any]]  # by column, as SQLCompiler.apply_converters takes them

    @classmethod
    def of(cls, queryset: QuerySet[Any, Any]) -> CompiledQuery:
        if queryset.query.distinct or queryset.query.combinator:
            # Their SQL may carry columns the queryset would drop: not worth handling here.
            raise ValueError("only plain values_list querysets are compiled")
        compiler = queryset.query.get_compiler(queryset.db)
        sql, params = compiler.as_sql()
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        return cls(queryset.db, sql, tuple(params), compiler, compiler.get_converters(columns))

    def rows(self) -> list[tuple[Any, ...]]:
        """The rows as the queryset itself would give them: tuples of converted values."""
        connection: Any = connections[self.alias]  # the stubs lack health_check_done
        checking = _is_first_use_of_reused_connection(connection)
        if checking:
            # The query itself checks the connection, instead of Django's extra round trip (SELECT 1) before
            # a request's first query: a read outside any transaction is safe to send again, so a connection
            # found dead (PostgreSQL restarted) is replaced and the query sent once more.
            connection.health_check_done = True
        try:
            fetched = self._fetch()
        except DatabaseError:
            if not checking or connection.is_usable():
                raise
            connection.close()
            fetched = self._fetch()
        if not self.converters:
            return fetched
        return [tuple(row) for row in self.compiler.apply_converters(fetched, self.converters)]

    def _fetch(self) -> list[tuple[Any, ...]]:
        with _cursor(self.alias) as cursor:
            cursor.execute(self.sql, self.params)
            fetched: list[tuple[Any, ...]] = cursor.fetchall()
        return fetched


def _is_first_use_of_reused_connection(connection: Any) -> bool:
    """Whether Django would check this connection with a round trip before using it (PostgreSQL)."""
    return (
        connection.vendor == "postgresql"
        and connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    )


def _cursor(alias: str) -> Any:
    """A cursor for compiled SQL. On PostgreSQL one that binds parameters on the server, so that psycopg
    prepares a statement once it has run a few times on a connection and PostgreSQL stops planning it on
    every request (planning the article page's query costs ten times running it). Wrapped as Django wraps
    its own cursors: queries are logged and counted, errors become Django's."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor  # psycopg 3 only, as pinned

    cursor_class: Any = ServerBindingCursor  # a psycopg cursor class; the stubs know only Django's wrapper

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        server_bound = cursor_class(connection.connection)
    return (
        connection.make_debug_cursor(server_bound)
        if connection.queries_logged
        else connection.make_cursor(server_bound)
    )


def compiled(maxsize: int) -> Callable[[Callable[..., QuerySet[Any, Any]]], Callable[..., CompiledQuery]]:
    """Decorate a function that builds a queryset from hashable arguments: calling it gives the queryset
    compiled, once per thread and arguments, keeping the last `maxsize` per thread."""

    def decorate(build: Callable[..., QuerySet[Any, Any]]) -> Callable[..., CompiledQuery]:
        per_thread = threading.local()

        @functools.wraps(build)
        def compiled_query(*args: Hashable) -> CompiledQuery:
            cached = getattr(per_thread, "cached", None)
            if cached is None:
                cached = per_thread.cached = functools.lru_cache(maxsize=maxsize)(
                    lambda *key: CompiledQuery.of(build(*key))
                )
            query: CompiledQuery = cached(*args)
            return query

        return compiled_query

    return decorate
