"""Wire shapes of the Dust Runs protocol (PROTOCOL.md §2 and §4), as pydantic v2 models.

Serialising a model with :func:`to_wire` gives the literal wire JSON: every key the protocol
names is present, nulls are kept, and fields we do not know are carried through untouched.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

Status = Literal["running", "succeeded", "errored"]
RUN_STATUSES: tuple[str, ...] = ("running", "succeeded", "errored")

# Block types the protocol knows; any other string is accepted too (the SDK does the same).
KNOWN_BLOCK_TYPES: tuple[str, ...] = (
    "input",
    "data",
    "data_source",
    "code",
    "llm",
    "chat",
    "map",
    "reduce",
    "while",
    "end",
    "search",
    "curl",
    "browser",
    "database_schema",
    "database",
)


class Wire(BaseModel):
    """Base of every wire model: unknown fields are kept, so nothing the server says is lost."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Execution(Wire):
    """One execution of a block for one input (and one iteration)."""

    value: Any = None
    error: str | None = None
    meta: Any = None


class BlockStatus(Wire):
    block_type: str
    name: str
    status: Status
    success_count: int = 0
    error_count: int = 0


class RunStatus(Wire):
    run: Status
    blocks: list[BlockStatus] = Field(default_factory=list)


class RunConfig(Wire):
    blocks: dict[str, Any] = Field(default_factory=dict)


# A trace: ((block_type, block_name), executions[input][iteration]).
BlockKey = tuple[str, str]
Trace = tuple[BlockKey, list[list[Execution]]]


class Run(Wire):
    run_id: str
    created: int
    run_type: str = "deploy"
    specification_hash: str | None = None
    config: RunConfig = Field(default_factory=RunConfig)
    status: RunStatus
    traces: list[Trace] = Field(default_factory=list)
    results: list[list[Execution]] | None = None


class RunEnvelope(Wire):
    run: Run


# ---------------------------------------------------------------- apps


class Space(Wire):
    sId: str
    name: str
    kind: str = "global"
    isRestricted: bool = False
    groupIds: list[str] = Field(default_factory=list)
    createdAt: int | None = None
    updatedAt: int | None = None


class App(Wire):
    id: int
    sId: str
    name: str
    description: str | None = None
    savedSpecification: str | None = None
    savedConfig: str | None = None
    savedRun: str | None = None
    dustAPIProjectId: str = ""
    space: Space | None = None


class AppsEnvelope(Wire):
    apps: list[App]


# ---------------------------------------------------------------- errors


class RunErrorInfo(Wire):
    code: str
    message: str


class APIErrorBody(Wire):
    type: str
    message: str
    run_error: RunErrorInfo | None = None
    app_error: Any = None


class ErrorEnvelope(Wire):
    error: APIErrorBody


# ---------------------------------------------------------------- stream events (§4)


class RunStatusContent(Wire):
    status: Status
    run_id: str


class BlockExecutionContent(Wire):
    block_type: str
    block_name: str
    execution: list[list[Execution]]


class MapRef(Wire):
    name: str
    iteration: int


class TokenText(Wire):
    text: str = ""
    tokens: list[str] | None = None
    logprobs: list[float | None] | None = None


class TokenContent(Wire):
    """Common routing of every token-level event: which block, input and iteration it belongs to."""

    block_type: str
    block_name: str
    input_index: int
    map: MapRef | None = None


class TokensContent(TokenContent):
    tokens: TokenText


class ReasoningItemContent(TokenContent):
    item: Any = None


class FunctionCallName(Wire):
    name: str


class FunctionCallContent(TokenContent):
    function_call: FunctionCallName


class ErrorContent(Wire):
    code: str
    message: str


class RunStatusEvent(Wire):
    type: Literal["run_status"] = "run_status"
    content: RunStatusContent


class BlockStatusEvent(Wire):
    type: Literal["block_status"] = "block_status"
    content: BlockStatus


class BlockExecutionEvent(Wire):
    type: Literal["block_execution"] = "block_execution"
    content: BlockExecutionContent


class TokensEvent(Wire):
    type: Literal["tokens"] = "tokens"
    content: TokensContent


class ReasoningTokensEvent(Wire):
    type: Literal["reasoning_tokens"] = "reasoning_tokens"
    content: TokensContent


class ReasoningItemEvent(Wire):
    type: Literal["reasoning_item"] = "reasoning_item"
    content: ReasoningItemContent


class FunctionCallEvent(Wire):
    type: Literal["function_call"] = "function_call"
    content: FunctionCallContent


class FunctionCallArgumentsTokensEvent(Wire):
    type: Literal["function_call_arguments_tokens"] = "function_call_arguments_tokens"
    content: TokensContent


class ErrorEvent(Wire):
    type: Literal["error"] = "error"
    content: ErrorContent


class FinalEvent(Wire):
    type: Literal["final"] = "final"
    content: None = None


class UnknownEvent(Wire):
    """An event type this version does not know: kept whole, ignored by the reducer."""

    type: str
    content: Any = None


KNOWN_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "run_status",
        "block_status",
        "block_execution",
        "tokens",
        "reasoning_tokens",
        "reasoning_item",
        "function_call",
        "function_call_arguments_tokens",
        "error",
        "final",
    }
)


def _event_tag(payload: Any) -> str:
    kind = payload.get("type") if isinstance(payload, dict) else getattr(payload, "type", None)
    return kind if kind in KNOWN_EVENT_TYPES else "unknown"


Event = Annotated[
    Annotated[RunStatusEvent, Tag("run_status")]
    | Annotated[BlockStatusEvent, Tag("block_status")]
    | Annotated[BlockExecutionEvent, Tag("block_execution")]
    | Annotated[TokensEvent, Tag("tokens")]
    | Annotated[ReasoningTokensEvent, Tag("reasoning_tokens")]
    | Annotated[ReasoningItemEvent, Tag("reasoning_item")]
    | Annotated[FunctionCallEvent, Tag("function_call")]
    | Annotated[FunctionCallArgumentsTokensEvent, Tag("function_call_arguments_tokens")]
    | Annotated[ErrorEvent, Tag("error")]
    | Annotated[FinalEvent, Tag("final")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_event_tag),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(payload: Any) -> Event:
    """Validate one decoded event payload (``{"type": ..., "content": ...}``) into its model."""
    return EVENT_ADAPTER.validate_python(payload)


def parse_event_json(data: str | bytes) -> Event:
    """Validate one event from its JSON text."""
    return EVENT_ADAPTER.validate_json(data)


def to_wire(model: BaseModel) -> Any:
    """The literal wire JSON of a model: all keys present, nulls kept, extras carried through."""
    return model.model_dump(mode="json", by_alias=True)


def error_to_wire(envelope: ErrorEnvelope) -> dict[str, Any]:
    """The error envelope as the server writes it: optional members are absent, not null."""
    body = envelope.error.model_dump(mode="json", exclude_none=True)
    return {"error": body}
