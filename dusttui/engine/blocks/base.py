"""What a block execution receives and returns; shared helpers of the block modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dusttui.engine.context import EngineContext
    from dusttui.engine.spec import Block

Emit = Callable[[dict[str, Any]], Awaitable[None]]
REDACTED = "\u2022" * 6  # what code blocks see instead of a secret, as in core


class BlockError(Exception):
    """A failed execution: its message becomes the execution's `error` string."""


@dataclass(slots=True)
class Env:
    """The environment of one execution (one input stream, one map or while iteration)."""

    state: dict[str, Any]
    input_value: Any
    input_index: int
    map: dict[str, Any] | None  # {"name", "iteration"} inside map…reduce and while…end


@dataclass(slots=True)
class RunScope:
    """What all executions of a run share."""

    run_id: str
    config: dict[str, Any]  # {BLOCK_NAME: {...}} as the caller sent it
    ctx: EngineContext
    emit: Emit


@dataclass(slots=True)
class BlockResult:
    value: Any
    meta: Any = None


@dataclass(slots=True)
class BlockCall:
    """One execution of one block."""

    block: Block
    name: str
    env: Env
    run: RunScope

    @property
    def config(self) -> Any:
        """This block's entry of the run config, or None."""
        return self.run.config.get(self.name)

    def js_env(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        """The `env` given to `_fun` (PROTOCOL.md §6); secrets read "••••••" unless revealed.

        core/src/run.rs `Secrets::serialize` redacts every value to "••••••" (six U+2022).
        """
        secrets = self.run.ctx.secrets
        return {
            "config": {"blocks": self.run.config},
            "state": self.env.state,
            "input": {"value": self.env.input_value, "index": self.env.input_index},
            "map": self.env.map,
            "secrets": dict(secrets) if reveal_secrets else dict.fromkeys(secrets, REDACTED),
            "run_id": self.run.run_id,
        }

    async def run_js(
        self, code: str, label: str, *, reveal_secrets: bool = False
    ) -> tuple[Any, list[Any]]:
        """Run `_fun(env)` of `code`; errors read "Error in `LABEL`: …". Returns (value, logs)."""
        from dusttui.engine.js import JSError

        env = self.js_env(reveal_secrets=reveal_secrets)
        try:
            result = await self.run.ctx.executor().run(code, env)
        except JSError as exc:
            raise BlockError(f"Error in `{label}`: {exc}") from None
        return result.value, list(result.logs)

    async def emit_token_event(self, event_type: str, payload_key: str, payload: Any) -> None:
        """Send a token-level event routed by input index and map/while iteration."""
        await self.run.emit(
            {
                "type": event_type,
                "content": {
                    "block_type": self.block.type,
                    "block_name": self.name,
                    "input_index": self.env.input_index,
                    "map": self.env.map,
                    payload_key: payload,
                },
            }
        )


def config_flag(config: Any, key: str, default: bool) -> bool:
    """A boolean config option the way core reads it: absent gives `default`, a non-bool true."""
    if not isinstance(config, dict) or key not in config:
        return default
    value = config[key]
    return value if isinstance(value, bool) else True
