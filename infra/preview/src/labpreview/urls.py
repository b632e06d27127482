"""Connection strings the preview injects, built in one place and proven against real servers.

The variable names are the original's (genesluna/k8s-ephemeral-environments @ddd901c:
`charts/postgresql/templates/_helpers.tpl` DATABASE_URL + PG*, `charts/mariadb/.../_helpers.tpl`
MYSQL_*, `charts/mongodb/.../_helpers.tpl` MONGODB_URL/MONGODB_URI/MONGODB_DATABASE,
`charts/redis/.../_helpers.tpl` REDIS_HOST/REDIS_PORT/REDIS_PASSWORD,
`charts/minio/.../_helpers.tpl` MINIO_* and S3_*). Unlike the original, REDIS_URL is given
with authentication on too (the original gave it only without a password), as a Secret.

User and password are percent-encoded (RFC 3986 userinfo), so any password works; the
generated ones are alphanumeric anyway.
"""

from __future__ import annotations

from urllib.parse import quote

DATABASE = "app"
USER = "app"
PORTS = {"postgresql": 5432, "mariadb": 3306, "mongodb": 27017, "redis": 6379, "minio": 9000}
HOSTS = {
    # CloudNativePG's read-write Service is `<cluster>-rw` (cloudnative-pg docs "Service
    # management"; the original's postgresql.serviceName helper).
    "postgresql": "postgresql-rw",
    "mariadb": "mariadb",
    "mongodb": "mongodb",
    "redis": "redis",
    "minio": "minio",
}
BUCKET = "data"
"""The original's default bucket (charts/minio/values.yaml `bucket: data`)."""


def _userinfo(user: str, password: str) -> str:
    return f"{quote(user, safe='')}:{quote(password, safe='')}"


def postgresql_url(password: str, host: str = HOSTS["postgresql"], port: int = 5432) -> str:
    return f"postgresql://{_userinfo(USER, password)}@{host}:{port}/{DATABASE}"


def mysql_url(password: str, host: str = HOSTS["mariadb"], port: int = 3306) -> str:
    return f"mysql://{_userinfo(USER, password)}@{host}:{port}/{DATABASE}"


def mongodb_url(password: str, host: str = HOSTS["mongodb"], port: int = 27017) -> str:
    # The user is created in `admin` by the image's MONGO_INITDB_ROOT_* variables.
    return f"mongodb://{_userinfo(USER, password)}@{host}:{port}/{DATABASE}?authSource=admin"


def redis_url(password: str, host: str = HOSTS["redis"], port: int = 6379) -> str:
    # `requirepass` protects the `default` user; an empty user name means `default`
    # (Redis URI scheme, redis://[[user]:password@]host[:port][/db]).
    return f"redis://:{quote(password, safe='')}@{host}:{port}/0"


def database_variables(kind: str, password: str, access_key: str = "") -> dict[str, str]:
    """The variables an app receives for one enabled database (all from a Secret)."""
    host, port = HOSTS[kind], str(PORTS[kind])
    if kind == "postgresql":
        return {
            "DATABASE_URL": postgresql_url(password),
            "PGHOST": host,
            "PGPORT": port,
            "PGDATABASE": DATABASE,
            "PGUSER": USER,
            "PGPASSWORD": password,
        }
    if kind == "mariadb":
        return {
            "MYSQL_URL": mysql_url(password),
            "MYSQL_HOST": host,
            "MYSQL_PORT": port,
            "MYSQL_DATABASE": DATABASE,
            "MYSQL_USER": USER,
            "MYSQL_PASSWORD": password,
        }
    if kind == "mongodb":
        url = mongodb_url(password)
        return {"MONGODB_URL": url, "MONGODB_URI": url, "MONGODB_DATABASE": DATABASE}
    if kind == "redis":
        return {
            "REDIS_URL": redis_url(password),
            "REDIS_HOST": host,
            "REDIS_PORT": port,
            "REDIS_PASSWORD": password,
        }
    if kind == "minio":
        return {
            "MINIO_ENDPOINT": host,
            "MINIO_PORT": port,
            "MINIO_ACCESS_KEY": access_key,
            "MINIO_SECRET_KEY": password,
            "MINIO_BUCKET": BUCKET,
            "S3_ENDPOINT": f"http://{host}:{port}",
            "S3_ACCESS_KEY": access_key,
            "S3_SECRET_KEY": password,
            "S3_BUCKET": BUCKET,
        }
    raise ValueError(f"unknown database {kind!r}")
