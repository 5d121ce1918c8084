"""All limits and knobs in one place; each can be overridden by an `AGX_`-prefixed variable."""

from ipaddress import IPv4Network, IPv6Network
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Network = IPv4Network | IPv6Network
LOOPBACK = ["127.0.0.0/8", "::1/128"]


def networks(default: list[str], description: str) -> Any:
    """A list of networks, given as a JSON list of strings ("10.0.0.0/8") and validated,
    the default too; at most 1,000."""
    return Field(default, max_length=1_000, validate_default=True, description=description)


class Limits(BaseSettings):
    """What one program may use. Checked before the work is done, not after."""

    model_config = SettingsConfigDict(env_prefix="AGX_", frozen=True)

    max_code_chars: int = Field(
        20_000, ge=1, description="Longest program accepted, in characters."
    )
    max_ast_nodes: int = Field(20_000, ge=1, description="Most syntax-tree nodes in one program.")
    max_ast_depth: int = Field(60, ge=1, description="Deepest nesting of expressions and blocks.")
    max_steps: int = Field(
        200_000, ge=1, description="Statements, loop turns and calls one run may take."
    )
    max_call_depth: int = Field(40, ge=1, description="Deepest chain of user function calls.")
    max_int_bits: int = Field(
        4_096, ge=1, description="Largest integer, in bits (results of `math` functions included)."
    )
    max_sequence_len: int = Field(100_000, ge=1, description="Longest string, list, tuple or dict.")
    max_nesting: int = Field(
        100,
        ge=1,
        description="Deepest nesting of a dict key or set item, or of lists given to torch.",
    )
    max_total_items: int = Field(
        10_000_000,
        ge=1,
        description="Characters and items all string and list building may make.",
    )
    max_tensor_numel: int = Field(4_000_000, ge=1, description="Most elements in one tensor.")
    max_total_numel: int = Field(
        40_000_000, ge=1, description="Elements all tensor operations may create."
    )
    max_graph_nodes: int = Field(
        20_000, ge=1, description="Most autograd nodes drawn from one root."
    )
    max_graph_edges: int = Field(
        40_000,
        ge=1,
        description="Most edges (inputs of autograd nodes) in the graph drawn from one root: "
        "each carries its gradient in the answer.",
    )
    max_stdout_chars: int = Field(64_000, ge=0, description="Printed output kept; the rest is cut.")
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
        "recorded calls it may walk to find them; as many again for the leaves it checks "
        "along one direction.",
    )
    gradcheck_max_elements: int = Field(
        4_000_000,
        ge=0,
        description="Elements the gradient check's replayed calls may read, write and "
        "multiply, all points together, to check leaves element by element.",
    )
    gradcheck_max_direction_elements: int = Field(
        100_000_000,
        ge=0,
        description="Elements the gradient check's replayed calls may read, write and "
        "multiply to check, along one direction each, the leaves it could not check element "
        "by element (a model's weights): three replays a leaf, whatever its size.",
    )


class Settings(BaseSettings):
    """Server settings. Defaults suit a 2-core machine serving a class."""

    model_config = SettingsConfigDict(env_prefix="AGX_", frozen=True)

    workers: int = Field(
        2,
        ge=1,
        description="Evaluations that run at once, each in a process that ends with its job; "
        "three warm processes wait per evaluation that may run.",
    )
    job_timeout_s: float = Field(
        5.0, gt=0, description="Wall-clock limit of one evaluation; its process is killed."
    )
    worker_memory_mb: int = Field(
        3_072, ge=1, description="Address-space limit of an evaluation's process (RLIMIT_AS)."
    )
    prefault_jobs: bool = Field(
        True,
        description="Run a small trusted program in each evaluation process before it is "
        "ready, so that its first copy-on-write faults are not on a request's path (more CPU "
        "in all, less latency).",
    )
    max_answer_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest answer one job may make (its graph, values and printed output); "
        "a larger one is a 422.",
    )
    max_waiting: int = Field(
        16, ge=0, description="Requests that may wait for a worker before 503."
    )
    max_wait_s: float = Field(
        10.0, gt=0, description="Longest a request waits for a free worker before 503."
    )
    max_body_bytes: int = Field(
        65_536, ge=1, description="Largest request body (413 beyond, chunked bodies too)."
    )
    body_timeout_s: float = Field(
        10.0, gt=0, description="Longest wait for the rest of a request body before 408."
    )
    allow_weak_sandbox: bool = Field(
        False,
        description="Listen beyond loopback even when the kernel refused a layer of the wall "
        "(docs/security.md).",
    )
    render_timeout_s: float = Field(
        5.0, gt=0, description="Time limit of one drawing, fallback layouts included."
    )
    layout_helpers: int = Field(
        2,
        ge=1,
        description="Graphviz layouts that run at once in layout processes (other views, "
        "fallbacks, drawings of more than 150 nodes: an answer's smaller drawing is laid out "
        "by its own job process); three warm processes wait for each, and each lays out one "
        "graph and exits.",
    )
    layout_memory_mb: int = Field(
        1_024, ge=1, description="Address-space limit of a layout process (RLIMIT_AS)."
    )
    cache_entries: int = Field(
        256, ge=0, description="Answers kept for repeated identical requests; 0 turns it off."
    )
    cache_mb: int = Field(64, ge=0, description="Total size of the kept answers, in MB.")
    drawing_cache_entries: int = Field(
        64,
        ge=0,
        description="Drawings kept by their DOT source, so a program that differs from an "
        "earlier one only where the drawing does not show (a comment, a name no node has) is "
        "not laid out again; 0 turns it off.",
    )
    drawing_cache_mb: int = Field(
        64, ge=0, description="Total size of the kept drawings (SVG), in MB."
    )
    extras_entries: int = Field(
        256,
        ge=0,
        description="Answers whose pending gradient check is kept for "
        "`GET /api/graph/extras/{token}`; the oldest go first.",
    )
    extras_mb: int = Field(16, ge=0, description="Total size of the kept gradient checks, in MB.")
    # The gradient check is made when asked for: the page asks at once, an API client that
    # never fetches `extras` costs none of it.
    extras_wait_s: float = Field(
        10.0,
        ge=0,
        description="How long a job process that answered waits for its gradient check to be "
        "asked for (GET its `extras`); asked later, the program runs again to make it.",
    )
    extras_waiting_jobs: int = Field(
        8,
        ge=0,
        le=1000,
        description="Job processes that answered and wait for their gradient check to be asked "
        "for, at most; beyond it the oldest is let go of (its check then runs the program "
        "again).",
    )
    extras_waiting_mb: int = Field(
        1024,
        ge=0,
        description="Memory the job processes waiting for their gradient check may hold in all, "
        "beyond what each had when its job came, in MB; beyond it the oldest are let go of.",
    )
    extras_ttl_s: float = Field(
        60.0,
        gt=0,
        description="How long a pending gradient check can be fetched after its answer (then 404).",
    )
    # Per client address (an IPv6 client by its /64, what one host is usually given); only
    # under /api/, so the page's own files never count. A class behind one NAT address
    # shares one bucket: raise the rate for it.
    rate_limit_per_s: float = Field(
        5.0,
        ge=0,
        description="API requests a client may make per second, sustained; 0 turns rate "
        "limiting off.",
    )
    rate_limit_burst: int = Field(
        30, ge=1, le=100_000, description="API requests a client may make at once after a pause."
    )
    rate_limit_running: int = Field(
        2,
        ge=0,
        le=100_000,
        description="Programs a client may have running at once (POST /api/graph and "
        "/api/graph.svg, GET of extras): a client cannot hold every worker with programs that "
        "run to the time limit; 0 turns it off.",
    )
    rate_limit_clients: int = Field(
        100_000,
        ge=1,
        le=10_000_000,
        description="Client addresses whose buckets are remembered; the least recent is "
        "forgotten beyond it.",
    )
    rate_limit_exempt: list[Network] = networks(
        LOOPBACK,
        "Client networks the rate limit does not apply to (a JSON list): by default the "
        "server's own machine.",
    )
    trusted_proxies: list[Network] = networks(
        [],
        "Networks of the proxies whose X-Forwarded-For names the client (a JSON list, e.g. "
        '["127.0.0.1/32"]); from any other peer the header is ignored.',
    )
    metrics_networks: list[Network] = networks(
        LOOPBACK, "Client networks that may read /metrics (a JSON list); [] closes it."
    )
    access_log: bool = Field(True, description="Write one JSON line per request to stdout.")
    access_log_program: bool = Field(
        False,
        description="Also write each program's text into its access log line (off: only its "
        "hash and size).",
    )
    shape_entries: int = Field(
        64, ge=0, description="Graphs kept for drawing other views of them (POST /api/graph/view)."
    )
    shape_items: int = Field(
        2_000_000,
        ge=0,
        description="Nodes, edges and groups of the kept graphs, and the numbers their values "
        "and gradients hold, together.",
    )
    view_entries: int = Field(
        512,
        ge=0,
        description="Answers of POST /api/graph/view kept, by graph and view (each a drawing "
        "with its DOT and where hidden nodes are shown).",
    )
    view_mb: int = Field(64, ge=0, description="Total size of the kept view answers, in MB.")
    limits: Limits = Field(default_factory=Limits)
