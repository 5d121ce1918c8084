"""The example notebook (examples/autograd-lessons.ipynb), run headless in a real Jupyter
kernel as a user runs it: every cell runs, every lesson is the page's lesson verbatim and
shows its graph with PyTorch's numbers, the failing lesson says where, the files are saved."""

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

from app.contract.text import format_number, format_tensor
from tests.examples import EXAMPLES
from tests.jupyter_view import variables_rows
from tests.reference import run_reference

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "autograd-lessons.ipynb"
TAG = "lesson:"


def read_notebook() -> NotebookNode:
    """The notebook as it is in the repository."""
    notebook: NotebookNode = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    return notebook


def lessons(notebook: NotebookNode) -> dict[str, NotebookNode]:
    """The cells that run a lesson, by the page example's id in their tag."""
    return {
        tag.removeprefix(TAG): cell
        for cell in notebook.cells
        for tag in cell.metadata.get("tags", [])
        if tag.startswith(TAG)
    }


def program_of(cell: NotebookNode) -> str:
    """The program a lesson cell hands to graph(): its first string literal."""
    return next(
        node.value
        for node in ast.walk(ast.parse(cell.source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[NotebookNode, Path]:
    """The notebook after a run in a fresh kernel, and the folder it ran in."""
    folder = tmp_path_factory.mktemp("notebook")
    notebook = read_notebook()
    with pytest.MonkeyPatch.context() as patch:
        # The kernel's connection file goes here, not in the home directory.
        patch.setenv("JUPYTER_RUNTIME_DIR", str(folder / "runtime"))
        client = NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
        )
        client.execute()  # raises CellExecutionError with the cell's traceback if one fails
    return notebook, folder


def test_the_notebook_is_saved_without_outputs() -> None:
    notebook = read_notebook()
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_lessons_are_the_pages_lessons_verbatim() -> None:
    found = lessons(read_notebook())
    assert {"chain-rule", "classifier-by-hand", "classifier-autograd", "accumulation"} <= set(found)
    for example_id, cell in found.items():
        assert program_of(cell) == EXAMPLES[example_id]["code"], example_id


def test_every_lesson_shows_pytorchs_numbers(ran: tuple[NotebookNode, Path]) -> None:
    notebook, _ = ran
    for example_id, cell in lessons(notebook).items():
        if EXAMPLES[example_id].get("error"):
            continue
        (shown,) = [output for output in cell.outputs if output.output_type == "execute_result"]
        html = shown.data["text/html"]
        assert "<script" not in html
        reference = run_reference(program_of(cell))
        rows = variables_rows(html)
        assert rows, example_id
        for name, (value, grad, *_) in rows.items():
            tensor = reference.names[name]
            assert value == format_number(tensor.item()), (example_id, name)
            expected = reference.grads.get(name)
            assert grad == (
                format_tensor(None) if expected is None else format_number(expected.item())
            ), (example_id, name)
        if reference.root is not None:
            assert "<svg" in html, example_id


def test_the_chain_rule_lesson_prints_its_product(ran: tuple[NotebookNode, Path]) -> None:
    notebook, _ = ran
    printed = "".join(
        output.text
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.output_type == "stream"
    )
    assert "dz/dx = cos(y) · 2x = -0.9111 · 6 = -5.4668" in printed
    assert "line 5, column 1: " in printed  # backward() twice, at the second call


def test_the_drawing_is_saved_in_every_format(ran: tuple[NotebookNode, Path]) -> None:
    _, folder = ran
    for suffix in (".svg", ".png", ".dot", ".json"):
        assert (folder / f"chain-rule{suffix}").stat().st_size > 0, suffix
