"""Settings and profiles, shared by the CLI and the TUI.

Where things come from, strongest first:
command-line options → ``DUST_*`` environment variables → the chosen profile in the TOML config file
(``DUSTTUI_CONFIG`` or ``<config dir>/config.toml``) → the embedded engine.

The API key comes from ``DUST_API_KEY`` or the OS keyring; it is written to the plain config file only
when the user asks for it (``save_profile(..., store_key_in_file=True)``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_NAME = "dusttui"
KEYRING_SERVICE = "dusttui"

# Known hosted regions; a profile may also give any custom URL.
REGIONS: dict[str, str] = {"us": "https://dust.tt", "eu": "https://eu.dust.tt"}
LOCAL_WORKSPACE = "local"


class ConfigError(ValueError):
    """The config file or the options given cannot be used; the message says why."""


def config_dir() -> Path:
    """Where config.toml and the user's themes live."""
    override = os.environ.get("DUSTTUI_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def config_path() -> Path:
    """The TOML config file: ``DUSTTUI_CONFIG`` when set, else ``<config dir>/config.toml``."""
    override = os.environ.get("DUSTTUI_CONFIG")
    return Path(override) if override else config_dir() / "config.toml"


def data_dir() -> Path:
    """Where the journal, the embedded engine's database and its key live."""
    override = os.environ.get("DUSTTUI_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def themes_dir() -> Path:
    """The user's own themes folder (adds to the bundled ones)."""
    return config_dir() / "themes"


def default_apps_dir() -> Path:
    """The apps folder used when ``apps_dir`` is not set (read only once it exists)."""
    return config_dir() / "apps"


class Profile(BaseModel):
    """A remote Dust workspace to talk to."""

    base_url: str = REGIONS["us"]
    """`https://dust.tt`, `https://eu.dust.tt`, or any URL serving the Dust API (e.g. `dusttui serve`)."""
    workspace_id: str
    """The workspace sId (`wId` in URLs)."""
    space_id: str | None = None
    """The space sId; without it the `/w/{wId}/apps/...` form is used."""
    api_key: SecretStr | None = None
    """Only when the user chose to keep the key in the file; prefer DUST_API_KEY or the keyring."""

    @field_validator("base_url", mode="before")
    @classmethod
    def _region_alias(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower() in REGIONS:
            return REGIONS[value.lower()]
        return value.rstrip("/") if isinstance(value, str) else value


class Settings(BaseSettings):
    """Everything the user can set in config.toml (and as `DUSTTUI_<FIELD>` environment variables)."""

    model_config = SettingsConfigDict(env_prefix="DUSTTUI_", extra="ignore")

    default_profile: str | None = None
    """The profile used when none is named; none means the embedded engine."""
    profiles: dict[str, Profile] = Field(default_factory=dict)
    """Named remote workspaces."""
    theme: str = "dusttui-dark"
    """The theme at start (bundled: dusttui-dark, dusttui-light, dusttui-high-contrast)."""
    bell: bool = True
    """Ring the terminal bell when a watched run ends."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id → keys, e.g. `launch = "f5"`."""
    apps_dir: Path | None = None
    """An extra folder of `.dust` apps for the embedded engine (default: `<config dir>/apps`
    once it exists; `dusttui locate apps`)."""
    token_delay_ms: float = 15.0
    """Pace of the embedded engine's offline provider when it streams tokens."""
    reconnect_seconds: float = 60.0
    """How long a lost connection to a running run is retried before giving up."""


def load_settings(path: Path | None = None) -> Settings:
    """Read the config file (missing is fine) and the environment."""
    path = path or config_path()
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from exc
    # DUSTTUI_<SETTING> wins over the file (pydantic-settings would let the file win)
    in_env = {name.upper() for name in os.environ}
    data = {k: v for k, v in data.items() if f"DUSTTUI_{k}".upper() not in in_env}
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: `{where}`: {first['msg']}") from exc
    # `dusttui locate apps --create` makes the default folder: from then on it is the apps folder
    if settings.apps_dir is not None:
        settings.apps_dir = settings.apps_dir.expanduser()
    elif default_apps_dir().is_dir():
        settings.apps_dir = default_apps_dir()
    return settings


def read_keyring(profile: str) -> str | None:
    """The key stored in the OS keyring for a profile, or None (no keyring is not an error)."""
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, profile)
    except Exception:  # no backend, locked, headless: behave as if nothing is stored
        return None


def write_keyring(profile: str, key: str) -> bool:
    """Store a key in the OS keyring; False when no keyring is usable."""
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, profile, key)
        # Some backends (the null one, locked stores) accept silently: check it is really there.
        return keyring.get_password(KEYRING_SERVICE, profile) == key
    except Exception:
        return False


def check_base_url(url: str, source: str) -> None:
    """A base URL must be http(s)://HOST[:PORT][/path]; ConfigError naming it and its source."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number, a bad IPv6 literal
        parts, port_ok = None, False
    if parts is not None and port_ok and parts.scheme in ("http", "https") and parts.hostname:
        return
    if "://" not in url and not url.lower().startswith(("http:", "https:")):
        host = url.split("/", 1)[0].split(":", 1)[0]
        local = host in ("localhost", "0.0.0.0") or host.replace(".", "").isdigit()
        hint = f"; with its scheme: {'http' if local else 'https'}://{url}"
    else:
        hint = (
            ": http:// or https://, a host, maybe a port (https://dust.tt, http://127.0.0.1:8787)"
        )
    raise ConfigError(f"{source} `{url}` is not a base URL{hint}")


@dataclass(frozen=True)
class Backend:
    """Where runs go: a remote Dust API, or the embedded engine started on demand."""

    kind: Literal["remote", "embedded"]
    base_url: str | None
    workspace_id: str
    space_id: str | None
    api_key: SecretStr | None
    profile: str | None = None
    key_source: str | None = None
    """Where the key came from, for messages: `DUST_API_KEY`, `the keyring (profile work)`…"""

    @property
    def label(self) -> str:
        """What the status line shows, e.g. `dust.tt · workspace 0ec9…` or `local engine`."""
        if self.kind == "embedded":
            return "local engine"
        host = (self.base_url or "").split("://", 1)[-1]
        name = f"{self.profile} · " if self.profile else ""
        return f"{name}{host} · workspace {self.workspace_id}"

    def __repr__(self) -> str:  # never show the key
        key = "set" if self.api_key else "none"
        return (
            f"Backend(kind={self.kind!r}, base_url={self.base_url!r}, "
            f"workspace_id={self.workspace_id!r}, space_id={self.space_id!r}, key={key})"
        )


def resolve_backend(
    settings: Settings,
    *,
    profile: str | None = None,
    local: bool = False,
    base_url: str | None = None,
    workspace: str | None = None,
    space: str | None = None,
    env: dict[str, str] | None = None,
) -> Backend:
    """Decide the backend from options, `DUST_*` variables and the config (see module docstring)."""
    env = dict(os.environ) if env is None else env
    if local:
        if profile:
            raise ConfigError("--local and --profile cannot be used together.")
        return Backend("embedded", None, LOCAL_WORKSPACE, LOCAL_WORKSPACE, None)

    chosen: Profile | None = None
    name = profile or env.get("DUSTTUI_PROFILE") or None
    if name:
        if name not in settings.profiles:
            known = ", ".join(sorted(settings.profiles)) or "none"
            raise ConfigError(f"No profile named `{name}` in {config_path()} (known: {known}).")
        chosen = settings.profiles[name]
    elif settings.default_profile and not (base_url or env.get("DUST_BASE_URL")):
        name = settings.default_profile
        if name not in settings.profiles:
            raise ConfigError(f"default_profile `{name}` is not defined in {config_path()}.")
        chosen = settings.profiles[name]

    url = base_url or env.get("DUST_BASE_URL") or (chosen.base_url if chosen else None)
    wid = workspace or env.get("DUST_WORKSPACE_ID") or (chosen.workspace_id if chosen else None)
    sid = space or env.get("DUST_SPACE_ID") or (chosen.space_id if chosen else None)

    if url is None and wid is None:
        # Nothing remote configured: the embedded engine is the default backend.
        return Backend("embedded", None, LOCAL_WORKSPACE, LOCAL_WORKSPACE, None)
    if wid is None:
        raise ConfigError(
            "A remote Dust API needs a workspace: pass --workspace or set DUST_WORKSPACE_ID."
        )
    url_from = (
        "--base-url"
        if base_url
        else "DUST_BASE_URL"
        if env.get("DUST_BASE_URL")
        else f"the base_url of profile {name}"
    )
    url = Profile(workspace_id=wid, base_url=url or REGIONS["us"]).base_url
    check_base_url(url, url_from)

    key: str | None = env.get("DUST_API_KEY") or None
    source = "DUST_API_KEY" if key else None
    if key is None and name:
        key = read_keyring(name)
        source = f"the keyring (service {KEYRING_SERVICE}, profile {name})" if key else None
    if key is None and chosen and chosen.api_key:
        key = chosen.api_key.get_secret_value()
        source = f"the config file {config_path()} (profile {name})"
    return Backend("remote", url, wid, sid, SecretStr(key) if key else None, name, source)


def save_profile(
    name: str,
    profile: Profile,
    *,
    api_key: str | None = None,
    store_key_in_file: bool = False,
    path: Path | None = None,
) -> str:
    """Add or replace a profile in the config file; the key goes to the keyring unless asked.

    Returns where the key went: "keyring", "file" or "nowhere".
    """
    import tomli_w

    path = path or config_path()
    data: dict[str, Any] = {}
    if path.exists():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    entry = profile.model_dump(mode="json", exclude_none=True, exclude={"api_key"})
    where = "nowhere"
    if api_key:
        if store_key_in_file:
            entry["api_key"] = api_key
            where = "file"
        elif write_keyring(name, api_key):
            where = "keyring"
    data.setdefault("profiles", {})[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    if where == "file":
        path.chmod(0o600)
    return where
