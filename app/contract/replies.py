"""What a job process sends the server about a job, as JSON over the pipe: never a pickle of
the process's choosing."""

from pydantic import BaseModel

from app.contract.errors import ProgramError
from app.contract.schemas import GraphDetails, GraphExtras, GraphShape
from app.contract.text import without_addresses

# The server's word to a job process that has answered: make the extras now.
MAKE_EXTRAS = b"extras"
# Or, before that, lay out the drawing of its graph: this, then `engine` newline DOT; the
# reply is a layout's (`svg` newline the SVG, or `error` newline why), not JSON.
LAY_OUT = b"lay out\n"


class ErrorFields(BaseModel):
    """A ProgramError as it crosses the pipe."""

    title: str
    detail: str
    line: int | None
    column: int | None
    slug: str


class WorkerReply(BaseModel):
    """One message of a worker about a job. A job that succeeds gets three: the graph's
    shape as soon as it is known (the server starts drawing it), the rest of its details
    (the server can answer), then, once the server asks for them (`MAKE_EXTRAS`), its
    extras (the gradient check); before the extras, the server may have it lay out the
    drawing (`LAY_OUT`). A job that fails gets an error in place of the message it
    could not make."""

    shape: GraphShape | None = None
    details: GraphDetails | None = None
    extras: GraphExtras | None = None
    error: ErrorFields | None = None
    fault: str | None = None  # an unexpected exception's traceback, for the server's log

    @classmethod
    def failed(cls, error: ProgramError, fault: str | None = None) -> "WorkerReply":
        # Field by field: `raised` holds the program's own values, which stay in the worker.
        # Its texts may quote what Python or PyTorch wrote of an object: without addresses.
        fields = {name: getattr(error, name) for name in ErrorFields.model_fields}
        fields = {
            name: without_addresses(value) if isinstance(value, str) else value
            for name, value in fields.items()
        }
        return cls(error=ErrorFields(**fields), fault=fault)

    def failure(self) -> ProgramError:
        """The program's error; a failed evaluation when the answer lacks a part."""
        if self.error is not None:
            return ProgramError(**self.error.model_dump())
        return ProgramError(
            "Evaluation failed", "the worker sent no answer", slug="evaluation-failed"
        )
