"""Settings and backend resolution: what a user's options, environment and config file select."""

import pytest

from dusttui.config import ConfigError, Profile, load_settings, resolve_backend, save_profile


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("DUSTTUI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for var in ("DUST_API_KEY", "DUST_WORKSPACE_ID", "DUST_SPACE_ID", "DUST_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_nothing_configured_means_the_embedded_engine():
    backend = resolve_backend(load_settings(), env={})
    assert backend.kind == "embedded"
    assert backend.workspace_id == "local"
    assert backend.label == "local engine"


def test_environment_selects_a_remote_workspace_and_key():
    env = {"DUST_WORKSPACE_ID": "w123", "DUST_API_KEY": "sk-secret-1", "DUST_SPACE_ID": "vlt_1"}
    backend = resolve_backend(load_settings(), env=env)
    assert (backend.kind, backend.base_url, backend.workspace_id, backend.space_id) == (
        "remote",
        "https://dust.tt",
        "w123",
        "vlt_1",
    )
    assert backend.api_key.get_secret_value() == "sk-secret-1"
    assert "sk-secret-1" not in repr(backend)


def test_profile_from_file_with_region_alias(isolated):
    (isolated / "config.toml").write_text(
        'default_profile = "eu"\n[profiles.eu]\nbase_url = "eu"\nworkspace_id = "wEU"\n'
    )
    backend = resolve_backend(load_settings(), env={})
    assert (backend.base_url, backend.workspace_id, backend.profile) == (
        "https://eu.dust.tt",
        "wEU",
        "eu",
    )
    assert backend.label == "eu · eu.dust.tt · workspace wEU"
    # Options beat the profile, and --local beats everything.
    assert resolve_backend(load_settings(), workspace="wX", env={}).workspace_id == "wX"
    assert resolve_backend(load_settings(), local=True, env={}).kind == "embedded"


def test_unknown_profile_and_bad_toml_are_clear_errors(isolated):
    with pytest.raises(ConfigError, match="No profile named `nope`"):
        resolve_backend(load_settings(), profile="nope", env={})
    (isolated / "config.toml").write_text("theme = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()


def test_base_url_without_workspace_is_refused():
    with pytest.raises(ConfigError, match="needs a workspace"):
        resolve_backend(load_settings(), base_url="http://127.0.0.1:8787", env={})


def test_key_stays_out_of_the_file_unless_asked(isolated):
    where = save_profile("work", Profile(workspace_id="w1"), api_key="sk-topsecret")
    text = (isolated / "config.toml").read_text()
    assert where == "nowhere"  # the null keyring stores nothing, and the file was not asked for
    assert "sk-topsecret" not in text
    assert 'workspace_id = "w1"' in text
    assert (
        save_profile("work", Profile(workspace_id="w1"), api_key="sk-2", store_key_in_file=True)
        == "file"
    )
    assert (
        resolve_backend(load_settings(), profile="work", env={}).api_key.get_secret_value()
        == "sk-2"
    )
