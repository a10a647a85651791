"""The keys of a pipeline's `metadata.yaml`, as Mage writes them.

Source: Mage's `Pipeline.to_dict` / `Block.to_dict` (mage_ai.data_preparation.models). Keys Weir does
not use yet are kept (`extra="allow"`) so that a Mage file read and written back loses nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _MageModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class RetryConfig(_MageModel):
    """Mage's `retry_config`: how often and how long to wait before running a failed block again.

    Defaults are Mage's (`mage_ai.data_preparation.shared.retry.RetryConfig`); they apply only to
    keys missing from a `retry_config` that is present. A block without `retry_config` is not retried.
    """

    retries: int = Field(default=2, ge=0)
    delay: float = Field(default=5, ge=0, description="seconds before the first retry")
    max_delay: float = Field(default=60, ge=0, description="upper bound of any delay, seconds")
    exponential_backoff: bool = True

    def delay_seconds(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1 = first retry)."""
        delay = self.delay * (2 ** (attempt - 1)) if self.exponential_backoff else self.delay
        return min(delay, self.max_delay)


class ConcurrencyConfig(_MageModel):
    """Mage's pipeline `concurrency_config`. Only `block_run_limit` matters to a single run."""

    block_run_limit: int | None = Field(default=None, ge=1)
    pipeline_run_limit: int | None = Field(default=None, ge=1)
    pipeline_run_limit_all_triggers: int | None = Field(default=None, ge=1)
    on_pipeline_run_limit_reached: Literal["wait", "skip"] | None = None


class BlockSpec(_MageModel):
    """One entry of `blocks:` (or `callbacks:` / `conditionals:`) in a pipeline's metadata.yaml."""

    uuid: str = Field(min_length=1)
    name: str | None = None
    type: str = Field(min_length=1)
    language: str = "python"
    upstream_blocks: tuple[str, ...] = ()
    downstream_blocks: tuple[str, ...] = ()
    configuration: dict[str, Any] = Field(default_factory=dict)
    retry_config: RetryConfig | None = None
    timeout: float | None = Field(default=None, gt=0, description="seconds; None = no limit")
    executor_type: str | None = None

    @field_validator("upstream_blocks", "downstream_blocks", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("configuration", mode="before")
    @classmethod
    def _none_is_empty_mapping(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("timeout", mode="before")
    @classmethod
    def _zero_is_no_timeout(cls, value: Any) -> Any:
        # Mage writes `timeout: null` or omits it; treat 0 the same rather than failing at once.
        return None if value in (0, "0", "") else value


class PipelineSpec(_MageModel):
    """A pipeline's metadata.yaml: its blocks and settings."""

    uuid: str = Field(min_length=1)
    name: str | None = None
    type: str = "python"
    description: str | None = None
    blocks: tuple[BlockSpec, ...] = ()
    callbacks: tuple[BlockSpec, ...] = ()
    conditionals: tuple[BlockSpec, ...] = ()
    variables: dict[str, Any] = Field(default_factory=dict)
    concurrency_config: ConcurrencyConfig = Field(default_factory=ConcurrencyConfig)
    retry_config: RetryConfig | None = None
    tags: tuple[str, ...] = ()

    @field_validator("blocks", "callbacks", "conditionals", "tags", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("variables", mode="before")
    @classmethod
    def _none_is_empty_mapping(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("concurrency_config", mode="before")
    @classmethod
    def _none_is_default(cls, value: Any) -> Any:
        return {} if value is None else value
