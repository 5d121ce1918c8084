"""The page's examples (static/examples.json), read once for every test that uses them."""

import json
from pathlib import Path
from typing import Any

EXAMPLES_JSON = Path(__file__).resolve().parents[1] / "static" / "examples.json"
EXAMPLE_LIST: list[dict[str, Any]] = json.loads(EXAMPLES_JSON.read_text())
EXAMPLES = {example["id"]: example for example in EXAMPLE_LIST}
LESSONS = [example for example in EXAMPLE_LIST if "lesson" in example]  # those that teach
