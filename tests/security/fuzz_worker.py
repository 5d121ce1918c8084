"""A process that evaluates programs for the tensor fuzz test, one JSON line each on stdin.

Not a test module: `test_tensor_fuzz` starts it, so that a crash in a native kernel (a
signal) is seen as this process dying, not as the test run dying. Each answer is a line:
"ok", the kind of error the program got, or what went wrong unexpectedly.
"""

import json
import sys

import torch

from app.contract.errors import ProgramError
from app.contract.schemas import GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate


def main() -> None:
    torch.set_num_threads(1)  # as the server's workers run
    limits = Limits()
    for line in sys.stdin:
        code = json.loads(line)["code"]
        try:
            first = evaluate(GraphRequest(code=code), limits).warnings
            # Run again: what a program is warned of must not depend on what ran before.
            again = evaluate(GraphRequest(code=code), limits).warnings
            answer = "ok" if first == again else f"warnings differ: {first} then {again}"
        except ProgramError as error:
            answer = error.slug
        except Exception as error:  # not a crash: the test reports these separately
            answer = f"exception {type(error).__name__}: {str(error)[:300]}"
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
