"""The server key: env, generated file (0600), never shown; no open bind without a chosen key."""

from __future__ import annotations

import logging
import stat

import httpx
import pytest

from dusttui.engine.auth import (
    ServerKeyError,
    authorization_error,
    check_bind,
    is_loopback,
    resolve_server_key,
)
from dusttui.engine.embedded import EmbeddedEngine
from tests.engine.conftest import apps_url, auth


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch):
    monkeypatch.delenv("DUSTTUI_SERVER_KEY", raising=False)


def test_a_key_is_generated_once_kept_0600_and_reused(tmp_path):
    first = resolve_server_key(tmp_path / "data")
    assert first.source == "file"
    assert first.path == tmp_path / "data" / "server_key"
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    assert first.value.startswith("sk-") and len(first.value) == 51
    again = resolve_server_key(tmp_path / "data")
    assert again.value == first.value


def test_the_env_key_wins_over_the_file_and_an_argument_over_both(tmp_path, monkeypatch):
    resolve_server_key(tmp_path)
    monkeypatch.setenv("DUSTTUI_SERVER_KEY", "sk-from-env")
    assert (resolve_server_key(tmp_path).value, resolve_server_key(tmp_path).source) == (
        "sk-from-env",
        "env",
    )
    explicit = resolve_server_key(tmp_path, "sk-explicit")
    assert (explicit.value, explicit.source) == ("sk-explicit", "explicit")


def test_a_key_bearer_tokens_cannot_carry_is_refused_without_echoing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DUSTTUI_SERVER_KEY", "my secret key")
    with pytest.raises(ServerKeyError, match="DUSTTUI_SERVER_KEY") as info:
        resolve_server_key(tmp_path)
    assert "my secret key" not in str(info.value)


def test_the_key_value_never_shows_in_repr(tmp_path):
    key = resolve_server_key(tmp_path, "sk-hidden-value")
    assert "sk-hidden-value" not in repr(key)
    assert "sk-hidden-value" not in str(key)


def test_loopback_hosts():
    assert [is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost")] == [
        True
    ] * 5
    assert [is_loopback(h) for h in ("0.0.0.0", "192.168.1.4", "::", "example.org")] == [False] * 4


def test_binding_beyond_loopback_needs_a_chosen_key(tmp_path):
    generated = resolve_server_key(tmp_path)
    with pytest.raises(
        ServerKeyError, match=r"Refusing to listen on 0\.0\.0\.0 without an explicit key"
    ):
        check_bind("0.0.0.0", generated)
    check_bind("127.0.0.1", generated)
    check_bind("0.0.0.0", resolve_server_key(tmp_path, "Zq3v9-Lw_x8TtR2mNc7Kd4Yb6Hs1Pf0Ue"))


@pytest.mark.parametrize(
    "weak",
    ["x", "sk-chosen", "a" * 40, "abababababababababababababababab", "sk-" + "0123456789" * 2],
)
def test_binding_beyond_loopback_refuses_a_weak_key_saying_what_is_needed(tmp_path, weak):
    with pytest.raises(ServerKeyError) as info:
        check_bind("0.0.0.0", resolve_server_key(tmp_path, weak))
    message = str(info.value)
    assert message.startswith(
        f"Refusing to listen on 0.0.0.0 with a weak key ({len(weak)} characters): other machines "
        "could reach this engine, so its key needs at least 32 characters and 10 different ones."
    )
    assert "secrets.token_urlsafe(32)" in message
    if len(weak) > 8:  # the key itself is never repeated back
        assert weak not in message
    check_bind("127.0.0.1", resolve_server_key(tmp_path, weak))  # loopback: any key


def test_an_embedded_engine_refuses_an_open_bind_without_a_key(tmp_path):
    engine = EmbeddedEngine(data_dir=tmp_path, host="0.0.0.0")
    with pytest.raises(ServerKeyError, match="DUSTTUI_SERVER_KEY"):
        engine.start()
    assert engine.url == ""


def test_header_checks(tmp_path):
    key = resolve_server_key(tmp_path, "sk-abc")
    assert authorization_error("Bearer sk-abc", key) is None
    assert authorization_error("bearer   sk-abc", key) is None
    assert authorization_error(None, key)[0] == "not_authenticated"
    assert authorization_error("Token sk-abc", key)[0] == "malformed_authorization_header_error"
    assert authorization_error("Bearer sk-abd", key)[0] == "invalid_api_key_error"
    assert authorization_error("Bearer sk-abc-and-more", key)[0] == "invalid_api_key_error"


def test_an_engine_without_a_key_serves_with_its_generated_file_key(engine_factory, data_dir):
    engine = engine_factory(api_key=None)
    assert engine.key.source == "file"
    kept = (data_dir / "server_key").read_text().strip()
    assert engine.api_key == kept
    assert httpx.get(engine.url + apps_url(), headers=auth(kept)).status_code == 200
    assert httpx.get(engine.url + apps_url(), headers=auth("sk-guess")).status_code == 401


def test_the_env_key_is_what_an_engine_accepts(engine_factory, monkeypatch):
    monkeypatch.setenv("DUSTTUI_SERVER_KEY", "sk-env-chosen-1234")
    engine = engine_factory(api_key=None)
    assert httpx.get(engine.url + apps_url(), headers=auth("sk-env-chosen-1234")).status_code == 200


def test_the_key_never_appears_in_logs(engine_factory, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    engine = engine_factory(log_level="debug")
    key = engine.api_key
    httpx.get(engine.url + apps_url(), headers=auth(key))
    httpx.get(engine.url + apps_url(), headers=auth("sk-wrong-attempt"))
    httpx.post(engine.url + "/api/v1/w/w/apps/double/runs", headers=auth(key), content=b"{")
    engine.stop()
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert "Application startup complete" in logged
    assert key not in logged
    assert "sk-wrong-attempt" not in logged
    assert key not in repr(engine)
