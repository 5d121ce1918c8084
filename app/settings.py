"""All limits and knobs in one place; each can be overridden by an `AGX_`-prefixed variable."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Limits(BaseSettings):
    """What one program may use. Checked before the work is done, not after."""

    model_config = SettingsConfigDict(env_prefix="AGX_", frozen=True)

    max_code_chars: int = Field(20_000, description="Longest program accepted, in characters.")
    max_ast_nodes: int = Field(20_000, description="Most syntax-tree nodes in one program.")
    max_ast_depth: int = Field(60, description="Deepest nesting of expressions and blocks.")
    max_steps: int = Field(
        200_000, description="Statements, loop turns and calls one run may take."
    )
    max_call_depth: int = Field(40, description="Deepest chain of user function calls.")
    max_int_bits: int = Field(4_096, description="Largest integer, in bits.")
    max_sequence_len: int = Field(100_000, description="Longest string, list, tuple or dict.")
    max_nesting: int = Field(
        100,
        description="Deepest nesting of a dict key or set item, or of lists given to torch.",
    )
    max_total_items: int = Field(
        10_000_000, description="Characters and items all string and list operations may build."
    )
    max_tensor_numel: int = Field(4_000_000, description="Most elements in one tensor.")
    max_total_numel: int = Field(
        40_000_000, description="Elements all tensor operations may create."
    )
    max_graph_nodes: int = Field(20_000, description="Most autograd nodes drawn from one root.")
    max_graph_edges: int = Field(
        100_000,
        description="Most edges (inputs of autograd nodes) in the graph drawn from one root.",
    )
    max_stdout_chars: int = Field(64_000, description="Printed output kept; the rest is cut.")
    # Counted before the work is done, so the check gives the same answer on a busy machine.
    # The defaults check every lesson and the benchmark's MLP whole, and keep the worst
    # program's check to a small share of a job.
    gradcheck_max_leaves: int = Field(
        16, ge=0, description="Leaves the finite-difference gradient check covers; 0 turns it off."
    )
    gradcheck_max_calls: int = Field(
        5_000,
        ge=0,
        description="Torch calls the gradient check may replay, all points together, and "
        "recorded calls it may walk to find them.",
    )
    gradcheck_max_elements: int = Field(
        4_000_000,
        ge=0,
        description="Elements the gradient check's replayed calls may read and write, all "
        "points together.",
    )


class Settings(BaseSettings):
    """Server settings. Defaults suit a 2-core machine serving a class."""

    model_config = SettingsConfigDict(env_prefix="AGX_", frozen=True)

    workers: int = Field(
        2,
        ge=1,
        description="Evaluations that run at once, each in a process that ends with its job.",
    )
    job_timeout_s: float = Field(5.0, gt=0, description="Wall-clock limit of one evaluation.")
    worker_memory_mb: int = Field(3_072, description="Address-space limit of a worker (RLIMIT_AS).")
    prefault_jobs: bool = Field(
        True,
        description="Run a small trusted program in each job process before it is ready, so "
        "that its first copy-on-write faults are not on a request's path.",
    )
    max_answer_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest answer a job may make (its graph, values and printed output).",
    )
    max_waiting: int = Field(
        16, ge=0, description="Requests that may wait for a worker before 503."
    )
    max_wait_s: float = Field(
        10.0, gt=0, description="Longest a request waits for a free worker before 503."
    )
    max_body_bytes: int = Field(65_536, description="Largest request body.")
    body_timeout_s: float = Field(
        10.0, gt=0, description="Longest wait for the rest of a request body before 408."
    )
    allow_weak_sandbox: bool = Field(
        False,
        description="Listen beyond loopback even when the kernel refused a layer of the wall.",
    )
    render_timeout_s: float = Field(
        5.0, gt=0, description="Time limit of one drawing, fallback layouts included."
    )
    layout_helpers: int = Field(2, ge=1, description="Graphviz layout helper processes.")
    layout_memory_mb: int = Field(
        1_024, description="Address-space limit of a layout helper (RLIMIT_AS)."
    )
    cache_entries: int = Field(256, ge=0, description="Answers kept for repeated requests.")
    cache_mb: int = Field(64, ge=0, description="Total size of the kept answers.")
    extras_entries: int = Field(
        256, ge=0, description="Answers whose pending gradient check is kept for fetching."
    )
    extras_mb: int = Field(16, ge=0, description="Total size of the kept gradient checks.")
    extras_ttl_s: float = Field(
        60.0, gt=0, description="How long a pending gradient check can be fetched after its answer."
    )
    shape_entries: int = Field(
        64, ge=0, description="Graphs kept for drawing other views of them (POST /api/graph/view)."
    )
    shape_items: int = Field(
        2_000_000, ge=0, description="Nodes, edges and groups of the kept graphs, together."
    )
    drawing_entries: int = Field(512, ge=0, description="Drawings of views kept.")
    drawing_mb: int = Field(64, ge=0, description="Total size of the kept drawings.")
    limits: Limits = Field(default_factory=Limits)
