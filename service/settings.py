"""Service settings: one typed struct, read from the environment once, at the edge (the CLI)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from service.auth.generated_secrets import load_or_create_generated_secrets

__all__ = ["PREFIX", "Settings", "default_processing_workers", "load_settings", "split_list"]

PREFIX = "REPLAYDESK_"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the service can be configured with. Env names are `REPLAYDESK_<FIELD>`."""

    data_dir: Path
    """Where the embedded database, blob folder and generated secrets live."""

    database_url: str
    """SQLAlchemy async URL. Default: a SQLite file in `data_dir`. At scale:
    `postgresql+asyncpg://user:pass@host/db`."""

    blob_url: str | None = None
    """Where event chunks go. Unset: `data_dir/blobs`. At scale: `s3://bucket/prefix`,
    `gs://...`, `az://...`."""

    blob_options: dict[str, str] = msgspec.field(default_factory=dict)
    """Extra object-store options as JSON (`REPLAYDESK_BLOB_OPTIONS`), e.g. an S3 `endpoint`."""

    redis_url: str | None = None
    """Redis for the job queue. Unset: an in-process queue and worker."""

    host: str = "127.0.0.1"
    """Address `replaydesk serve` binds."""

    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    """Port `replaydesk serve` binds."""

    public_url: str = "http://127.0.0.1:8000"
    """The base URL people open; viewer links are built on it. Unset: where `replaydesk serve`
    answers, `http://{host}:{port}` (127.0.0.1 for a wildcard host)."""

    secret_key: str
    """Signs viewer tokens and hashes erased user IDs. Generated once into `data_dir` if unset."""

    previous_secret_keys: tuple[str, ...] = ()
    """Former secret keys (comma-separated): viewer links they signed stay valid until they
    expire, so the secret key can rotate without breaking links already sent."""

    api_keys: tuple[str, ...] = ()
    """Secret API keys (comma-separated). Generated once into `data_dir` if none is configured;
    more can be created with `replaydesk keys create`."""

    ingest_keys: tuple[str, ...] = ()
    """Public ingest keys for the recorder (comma-separated). Generated once like the API key."""

    ingest_origins: tuple[str, ...] = ("*",)
    """Site origins allowed to send batches with the configured ingest keys (comma-separated,
    `*` for any). Keys created with `replaydesk keys` carry their own list."""

    max_body_bytes: Annotated[int, msgspec.Meta(gt=0)] = 8 * 1024 * 1024
    """Largest ingest body accepted as sent on the wire (413 above it)."""

    max_decompressed_bytes: Annotated[int, msgspec.Meta(gt=0)] = 32 * 1024 * 1024
    """Largest ingest body accepted once gunzipped; decompression stops there (413)."""

    processing_workers: Annotated[int, msgspec.Meta(ge=0, le=256)] = 0
    """Processes that process acknowledged batches (signals, scrubbing, chunks, rows) while the
    serving process only checks and queues them. Unset in the environment: one per core; 0:
    every batch is processed in its request, before it is acknowledged (also the default of
    settings built in code, as tests and embedders do)."""

    session_idle_timeout_seconds: Annotated[int, msgspec.Meta(gt=0)] = 30 * 60
    """A session with no batch for this long counts as ended."""

    retention_days: Annotated[int, msgspec.Meta(gt=0)] = 30
    """Sessions whose last batch is older than this are purged with their blobs."""

    default_link_ttl_seconds: Annotated[int, msgspec.Meta(gt=0)] = 15 * 60
    """Lifetime of ad-hoc viewer links (`POST /api/v1/sessions/{id}/links`, `replaydesk link`)."""

    ticket_link_ttl_seconds: Annotated[int, msgspec.Meta(gt=0)] = 30 * 24 * 3600
    """Lifetime of viewer links written into tickets (they are read days later)."""

    ticket_link_window_minutes: Annotated[int, msgspec.Meta(ge=0, le=24 * 60)] = 10
    """The replay link written into a ticket shows the minutes before the ticket was opened
    (the session's last minutes when it had ended before), the whole session one more link
    away; 0: the link shows the whole session."""

    asset_fetching: bool = True
    """Copy the stylesheets, fonts and images sessions reference (from the origins their
    ingest keys allow), so replays show them without the agent's browser asking the recorded
    site. `off`: nothing is fetched (stylesheets the recorder sent inlined are still kept) and
    replays show empty boxes instead, still asking no one."""

    viewer_frame_ancestors: str = "'none'"
    """CSP `frame-ancestors` of the replay page: who may embed it in a frame (e.g. your
    helpdesk's origin). Default: nobody."""

    sidebar_frame_ancestors: str = "https://*.zendesk.com"
    """CSP `frame-ancestors` of the Zendesk sidebar page (`/zendesk/sidebar`): the Zendesk
    origins that may show it. Add your host-mapped help desk address if agents use one."""

    plugins: tuple[str, ...] | None = None
    """Allow-list of plugin names (entry-point names, comma-separated); unset: every installed
    plugin loads."""

    disabled_plugins: tuple[str, ...] = ()
    """Plugins not to load even though installed (comma-separated entry-point names)."""

    plugin_environment: dict[str, str] = msgspec.field(default_factory=dict)
    """Every other `REPLAYDESK_*` variable, prefix removed: plugins' own settings
    (`REPLAYDESK_<PLUGIN>_<NAME>`), handed to each plugin as its `PluginSettings`."""


def split_list(value: str) -> tuple[str, ...]:
    """Split a comma-separated setting, dropping blanks."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment; fill in generated secrets kept in the data dir."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(PREFIX + name)
        return value if value not in (None, "") else None

    data_dir = Path(get("DATA_DIR") or "./replaydesk-data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    generated = load_or_create_generated_secrets(data_dir)

    raw: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'replaydesk.db'}",
        "secret_key": get("SECRET_KEY") or generated.secret_key,
        "api_keys": split_list(get("API_KEYS") or "") or (generated.api_key,),
        "ingest_keys": split_list(get("INGEST_KEYS") or "") or (generated.ingest_key,),
    }
    for field, kind in (
        ("blob_url", str),
        ("redis_url", str),
        ("host", str),
        ("port", int),
        ("public_url", str),
        ("viewer_frame_ancestors", str),
        ("sidebar_frame_ancestors", str),
        ("max_body_bytes", int),
        ("max_decompressed_bytes", int),
        ("processing_workers", int),
        ("session_idle_timeout_seconds", int),
        ("retention_days", int),
        ("default_link_ttl_seconds", int),
        ("ticket_link_ttl_seconds", int),
        ("ticket_link_window_minutes", int),
    ):
        value = get(field.upper())
        if value is not None:
            raw[field] = value if kind is str else _to_int(field, value)
    if "processing_workers" not in raw:
        raw["processing_workers"] = default_processing_workers(str(raw["database_url"]))
    if (fetching := get("ASSET_FETCHING")) is not None:
        raw["asset_fetching"] = _to_switch("asset_fetching", fetching)
    if (previous := get("PREVIOUS_SECRET_KEYS")) is not None:
        raw["previous_secret_keys"] = split_list(previous)
    if (origins := get("INGEST_ORIGINS")) is not None:
        raw["ingest_origins"] = split_list(origins)
    if (options := get("BLOB_OPTIONS")) is not None:
        raw["blob_options"] = msgspec.json.decode(options)
    if (allowed := get("PLUGINS")) is not None:
        raw["plugins"] = split_list(allowed)
    raw["disabled_plugins"] = split_list(get("DISABLED_PLUGINS") or "")
    raw["plugin_environment"] = _plugin_environment(env)
    if "public_url" not in raw:
        raw["public_url"] = _served_url(str(raw.get("host", "127.0.0.1")), raw.get("port", 8000))
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SystemExit(f"replaydesk: invalid setting: {exc}") from None


def default_processing_workers(database_url: str) -> int:
    """One processing worker per core this process may run on; on SQLite one per two cores.

    SQLite takes one writer at a time, so workers beyond the first only share the signal
    pass and compression while their writes queue, and each worker's smaller pages cost more
    per batch: on the 2-core machine of docs/scaling.md one worker stored about a fifth more
    batches per second than two. PostgreSQL writes them side by side."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        cores = max(1, os.cpu_count() or 1)
    return max(1, cores // 2) if database_url.startswith("sqlite") else cores


def _served_url(host: str, port: object) -> str:
    """The URL `replaydesk serve` answers on, as a browser on this machine opens it."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host or '127.0.0.1'}:{port}"  # a host name
    if address.is_unspecified:  # bound to every interface: this machine's is one of them
        return f"http://127.0.0.1:{port}"
    return f"http://{host}:{port}" if address.version == 4 else f"http://[{host}]:{port}"


def _plugin_environment(env: Mapping[str, str]) -> dict[str, str]:
    """`REPLAYDESK_*` variables that are not service settings: the plugins' own."""
    core = {PREFIX + name.upper() for name in Settings.__struct_fields__}
    core |= {PREFIX + "PLUGINS", PREFIX + "DISABLED_PLUGINS"}
    return {
        name.removeprefix(PREFIX): value
        for name, value in env.items()
        if name.startswith(PREFIX) and name not in core and value != ""
    }


def _to_int(field: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"replaydesk: {PREFIX}{field.upper()} must be a whole number") from None


def _to_switch(field: str, value: str) -> bool:
    text = value.strip().lower()
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no"):
        return False
    raise SystemExit(f"replaydesk: {PREFIX}{field.upper()} must be on or off")
