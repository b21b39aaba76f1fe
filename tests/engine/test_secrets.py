"""Workspace secrets for the local engine come from DUSTTUI_SECRET_* variables."""

import httpx

from dusttui.engine.embedded import EmbeddedEngine, secrets_from_env

APP = """input INPUT { }

code SEE {
  code:
```
_fun = (env) => ({ names: Object.keys(env.secrets), token: env.secrets.TOKEN })
```
}
"""


def test_secrets_from_env_names():
    env = {"DUSTTUI_SECRET_TOKEN": "t0k", "DUSTTUI_SECRET_": "x", "OTHER": "y"}
    assert secrets_from_env(env) == {"TOKEN": "t0k"}


def test_code_blocks_see_secret_names_but_not_values(tmp_path, monkeypatch):
    monkeypatch.setenv("DUSTTUI_SECRET_TOKEN", "t0k-very-secret")
    apps = tmp_path / "apps"
    apps.mkdir()
    (apps / "see.dust").write_text(APP)
    with EmbeddedEngine(data_dir=tmp_path / "d", apps_dir=apps, api_key="sk-k") as engine:
        r = httpx.post(
            f"{engine.url}/api/v1/w/w/spaces/s/apps/see/runs",
            headers={"Authorization": "Bearer sk-k"},
            json={"specification_hash": "latest", "config": {}, "inputs": [{}], "blocking": True},
        )
    value = r.json()["run"]["results"][0][0]["value"]
    assert value == {"names": ["TOKEN"], "token": "••••••"}
    assert "t0k-very-secret" not in r.text
