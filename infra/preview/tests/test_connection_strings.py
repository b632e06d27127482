"""The connection strings an app receives work against real servers.

Real PostgreSQL, MariaDB and Redis (Debian's packages, started by these tests on loopback,
see `servers.py`) are set up with exactly the credentials a mocked run of the preview
program generated, the way each server's own bootstrap does it in the cluster:

- PostgreSQL as CloudNativePG's `bootstrap.initdb` does (cloudnative-pg v1.30.0,
  pkg/management/postgres/initdb.go: `CREATE ROLE <owner> LOGIN`, `CREATE DATABASE <db>
  OWNER <owner>`; pkg/management/postgres/utils/roles.go: `ALTER ROLE <owner> WITH PASSWORD`
  from the Secret named in `initdb.secret`), then the Cluster's `postInitSQL` in `postgres`
  and `postInitApplicationSQL` in the application database, as the superuser;
- MariaDB as the image's entrypoint does with the container's MARIADB_* variables
  (MariaDB/mariadb-docker 11.4/docker-entrypoint.sh at 1b6429ba: `CREATE DATABASE IF NOT
  EXISTS`, `CREATE USER '<user>'@'%' IDENTIFIED BY '<escaped>'` with
  docker_sql_escape_string_literal, `GRANT ALL ON <db>.*`);
- Redis by running the Redis container's own command line (`sh -c 'exec redis-server
  --requirepass "$REDIS_PASSWORD" ...'`) with REDIS_PASSWORD from its Secret.

Every variable is resolved as the kubelet would: a literal `value`, or `secretKeyRef` into
the Secret the run created. Then the app's DATABASE_URL, MYSQL_URL and REDIS_URL are used
verbatim with standard clients (psycopg, SQLAlchemy's URL parser with PyMySQL, redis-py),
with one change: host and port are rewritten to the loopback server (the in-cluster Service
names do not resolve here). User, password, database, path and query stay byte for byte.

What cannot be proven here: MongoDB and MinIO (neither is packaged in Debian).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pymysql
import pytest
import redis
import sqlalchemy
from psycopg import sql

from labinfra.offline import harness
from labinfra.offline.harness import StackRun
from labinfra.offline.validate import kubernetes_object
from labpreview.offline import PullRequest, run_preview

sys.path.insert(0, str(Path(__file__).parent))
import database_servers as servers

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent / "fixtures" / "valid"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
HOSTILE = "p@ss:w/rd?#%[]' \"\\$`&+=;x"
"""Everything that breaks a URL, a shell line or an SQL literal when not escaped."""


# --- the mocked run, read as the cluster would read it ---------------------------------


class Cluster:
    """The objects of one mocked preview run, with env resolution as the kubelet does it."""

    def __init__(self, run: StackRun) -> None:
        self.objects = [kubernetes_object(r) for r in run.kubernetes_objects()]
        self.secrets = {
            o["metadata"]["name"]: dict(o.get("stringData") or {})
            for o in self.objects
            if o["kind"] == "Secret"
        }

    def get(self, kind: str, name: str) -> dict[str, Any]:
        for o in self.objects:
            if o["kind"] == kind and o["metadata"]["name"] == name:
                return o
        raise KeyError(f"{kind}/{name}")

    def container(self, kind: str, name: str, container: str | None = None) -> dict[str, Any]:
        pod = self.get(kind, name)["spec"]["template"]["spec"]
        return next(c for c in pod["containers"] if c["name"] == (container or name))

    def env(self, container: Mapping[str, Any]) -> dict[str, str]:
        resolved: dict[str, str] = {}
        for entry in container.get("env") or []:
            if "value" in entry:
                resolved[entry["name"]] = entry["value"]
            else:
                ref = entry["valueFrom"]["secretKeyRef"]
                resolved[entry["name"]] = self.secrets[ref["name"]][ref["key"]]
        return resolved

    def app_env(self) -> dict[str, str]:
        return self.env(self.container("Deployment", "app"))


def _run(fixture: str, passwords: Callable[[str], str] | None) -> Cluster:
    if passwords is None:
        return Cluster(run_preview((FIXTURES / fixture).read_text(encoding="utf-8"), PR))
    original = harness._fake_outputs

    def outputs(typ: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        if typ == "random:index/randomPassword:RandomPassword":
            return {"result": passwords(name), "bcryptHash": "$2a$10$unused"}
        return original(typ, name, inputs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(harness, "_fake_outputs", outputs)
        return Cluster(run_preview((FIXTURES / fixture).read_text(encoding="utf-8"), PR))


PR = PullRequest(7, "feature/connection-strings", COMMIT)
PASSWORDS: dict[str, Callable[[str], str] | None] = {
    # What the program generates (RandomPassword, letters and digits), as the harness mocks it.
    "generated": None,
    # Not what the program generates today: proves the escaping, should that ever change.
    "hostile": lambda name: f"{HOSTILE}{name}",
}


def on_loopback(url: str, port: int) -> str:
    """`url` with only its host and port replaced by 127.0.0.1:`port`."""
    parts = urlsplit(url)
    userinfo, _, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_on_loopback_changes_only_host_and_port() -> None:
    url = "postgresql://app:p%40ss%3Aw%2Frd@postgresql-rw:5432/app?sslmode=prefer"
    assert (
        on_loopback(url, 6000)
        == "postgresql://app:p%40ss%3Aw%2Frd@127.0.0.1:6000/app?sslmode=prefer"
    )


# --- PostgreSQL (CloudNativePG) -------------------------------------------------------


@pytest.fixture(scope="module")
def postgresql_server() -> Iterator[servers.Running]:
    with servers.postgresql() as running:
        yield running


def _superuser(server: servers.Running, dbname: str = "postgres") -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=str(server.socket_dir),
        port=server.port,
        user="postgres",
        dbname=dbname,
        autocommit=True,
    )


def _bootstrap_postgresql(server: servers.Running, cluster: Cluster) -> None:
    spec = cluster.get("Cluster", "postgresql")["spec"]
    initdb = spec["bootstrap"]["initdb"]
    credentials = cluster.secrets[initdb["secret"]["name"]]
    assert credentials["username"] == initdb["owner"]
    owner, database = sql.Identifier(initdb["owner"]), sql.Identifier(initdb["database"])
    with _superuser(server) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(database))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(owner))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(owner))
        admin.execute(
            sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                owner, sql.Literal(credentials["password"])
            )
        )
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, owner))
        for statement in initdb.get("postInitSQL") or []:
            admin.execute(statement)
    with _superuser(server, initdb["database"]) as admin:
        for statement in initdb.get("postInitApplicationSQL") or []:
            admin.execute(statement)


@pytest.mark.parametrize("passwords", PASSWORDS)
def test_database_url_connects_to_postgresql(
    postgresql_server: servers.Running, passwords: str
) -> None:
    cluster = _run("all-databases-postgresql.yaml", PASSWORDS[passwords])
    _bootstrap_postgresql(postgresql_server, cluster)
    env = cluster.app_env()
    assert env["DATABASE_TYPE"] == "postgresql"
    url = on_loopback(env["DATABASE_URL"], postgresql_server.port)
    with psycopg.connect(url) as conn:
        user, database = conn.execute("SELECT current_user, current_database()").fetchone() or ()
        assert (user, database) == (env["PGUSER"], env["PGDATABASE"])
        # The table the config's postInitApplicationSQL made (as the superuser) and granted
        # is the app's to use.
        conn.execute("INSERT INTO users (id, name) VALUES (%s, %s)", (1, "ada"))
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)
    # The discrete PG* variables name the same account.
    with psycopg.connect(
        host="127.0.0.1",
        port=postgresql_server.port,
        user=env["PGUSER"],
        password=env["PGPASSWORD"],
        dbname=env["PGDATABASE"],
    ) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_wrong_password_is_refused_by_postgresql(postgresql_server: servers.Running) -> None:
    """The server really checks the password (so the tests above prove something)."""
    cluster = _run("all-databases-postgresql.yaml", None)
    _bootstrap_postgresql(postgresql_server, cluster)
    url = on_loopback(cluster.app_env()["DATABASE_URL"], postgresql_server.port)
    wrong = url.replace(":" + cluster.app_env()["PGPASSWORD"] + "@", ":nope@")
    assert wrong != url
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


# --- MariaDB -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mariadb_server() -> Iterator[servers.Running]:
    with servers.mariadb() as running:
        yield running


def _escape_literal(value: str) -> str:
    """mariadb-docker's docker_sql_escape_string_literal: \\ -> \\\\, newline -> \\n, ' -> \\'."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("'", "\\'")


def _bootstrap_mariadb(server: servers.Running, cluster: Cluster) -> None:
    env = cluster.env(cluster.container("StatefulSet", "mariadb"))
    user, password, database = env["MARIADB_USER"], env["MARIADB_PASSWORD"], env["MARIADB_DATABASE"]
    user_host = env.get("MARIADB_USER_HOST", "%")
    admin = pymysql.connect(unix_socket=str(server.socket_dir / "mysqld.sock"), user="root")
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'{user_host}'")
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            cursor.execute(
                f"CREATE USER '{user}'@'{user_host}' IDENTIFIED BY '{_escape_literal(password)}'"
            )
            escaped_db = database.replace("_", "\\_")
            cursor.execute(f"GRANT ALL ON `{escaped_db}`.* TO '{user}'@'{user_host}'")
        admin.commit()
    finally:
        admin.close()


@pytest.mark.parametrize("passwords", PASSWORDS)
def test_mysql_url_connects_to_mariadb(mariadb_server: servers.Running, passwords: str) -> None:
    cluster = _run("all-databases-mariadb.yaml", PASSWORDS[passwords])
    _bootstrap_mariadb(mariadb_server, cluster)
    env = cluster.app_env()
    assert env["DATABASE_TYPE"] == "mariadb"
    # MYSQL_URL as a Python app reads it: SQLAlchemy's URL parser, the PyMySQL driver.
    url = sqlalchemy.make_url(on_loopback(env["MYSQL_URL"], mariadb_server.port))
    engine = sqlalchemy.create_engine(url.set(drivername="mysql+pymysql"))
    try:
        with engine.connect() as conn:
            row = conn.execute(sqlalchemy.text("SELECT CURRENT_USER(), DATABASE()")).one()
            assert row == (f"{env['MYSQL_USER']}@%", env["MYSQL_DATABASE"])
            conn.execute(sqlalchemy.text("CREATE TABLE items (id INT PRIMARY KEY)"))
            conn.execute(sqlalchemy.text("INSERT INTO items VALUES (1)"))
            assert conn.execute(sqlalchemy.text("SELECT count(*) FROM items")).scalar() == 1
    finally:
        engine.dispose()
    # The discrete MYSQL_* variables name the same account.
    conn2 = pymysql.connect(
        host="127.0.0.1",
        port=mariadb_server.port,
        user=env["MYSQL_USER"],
        password=env["MYSQL_PASSWORD"],
        database=env["MYSQL_DATABASE"],
    )
    conn2.close()


def test_a_wrong_password_is_refused_by_mariadb(mariadb_server: servers.Running) -> None:
    cluster = _run("all-databases-mariadb.yaml", None)
    _bootstrap_mariadb(mariadb_server, cluster)
    env = cluster.app_env()
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        pymysql.connect(
            host="127.0.0.1",
            port=mariadb_server.port,
            user=env["MYSQL_USER"],
            password=env["MYSQL_PASSWORD"] + "x",
            database=env["MYSQL_DATABASE"],
        )


# --- Redis -----------------------------------------------------------------------------


@pytest.mark.parametrize("passwords", PASSWORDS)
def test_redis_url_connects_to_redis(passwords: str) -> None:
    cluster = _run("all-databases-postgresql.yaml", PASSWORDS[passwords])
    container = cluster.container("StatefulSet", "redis")
    assert container["command"] == ["sh", "-c"]
    (command,) = container["args"]
    env = cluster.app_env()
    with servers.redis(command, cluster.env(container)) as server:
        client = redis.Redis.from_url(on_loopback(env["REDIS_URL"], server.port))
        try:
            assert client.ping() is True
            client.set("preview", "ok")
            assert client.get("preview") == b"ok"
        finally:
            client.close()
        # Without the password the server refuses: requirepass is really on.
        anonymous = redis.Redis(host="127.0.0.1", port=server.port)
        try:
            with pytest.raises(redis.AuthenticationError):
                anonymous.get("preview")
        finally:
            anonymous.close()
        discrete = redis.Redis(host="127.0.0.1", port=server.port, password=env["REDIS_PASSWORD"])
        try:
            assert discrete.get("preview") == b"ok"
        finally:
            discrete.close()
