"""Generated programs, text and bytes never produce a 5xx or a dead worker."""

import json
import string

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import PROBLEM_JSON

PRELUDE = (
    "import torch\nimport math\nimport torch.nn.functional as F\n"
    "x = torch.ones(3, requires_grad=True)\ny = x * 2\nm = torch.nn.Linear(3, 2)\n"
    "class C(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.fc = torch.nn.Linear(3, 3)\n    def method(self, v):\n        return v\n"
    "    def forward(self, v):\n        return self.fc(v)\n"
    # A class of the program with operators, a property and a classmethod, and an exception
    # class: their methods run when Python or the interpreter calls them.
    "class V:\n    def __init__(self, v=1):\n        self._v = v\n"
    "    def __add__(self, o):\n        return V(self._v + o)\n    __radd__ = __add__\n"
    "    def __mul__(self, o):\n        return self._v * o\n"
    "    def __eq__(self, o):\n        return self._v == o\n"
    "    def __hash__(self):\n        return hash(self._v)\n"
    "    def __lt__(self, o):\n        return self._v < o\n"
    "    def __repr__(self):\n        return f'V({self._v})'\n"
    "    def __len__(self):\n        return len(self._v)\n"
    "    def __getitem__(self, i):\n        return self._v[i]\n"
    "    def __call__(self, *a, **k):\n        return self._v\n"
    "    @property\n    def val(self):\n        return self._v\n"
    "    @val.setter\n    def val(self, v):\n        self._v = v\n"
    "    @classmethod\n    def make(cls, v):\n        return cls(v)\n"
    "class E(ValueError):\n    pass\n"
)
ATOMS = (
    "x y m i torch math F print len range sum sorted str 0 1 -1 2.5 10**6 None True "
    "'a' [1,2] (x,y) {1:x} torch.ones(3) torch.nn x.grad_fn torch.float64 torch.pi "
    "(lambda:x) (lambda v:v) ValueError Exception type isinstance super map sorted C C() "
    "'{}' '%s' torch.Tensor torch.autograd.Function "
    "V V() V(x) V(y) V([1,2]) V.make E E('a') {V():1} iter next hash *x **{}"
).split()
ATTRIBUTES = (
    "grad grad_fn data shape sum mean T backward item tolist view expand repeat to "
    "next_functions variable name weight parameters state_dict param_groups format join "
    "__class__ __dict__ mro load save empty from_file register_hook apply_ numpy data_ptr "
    "set_default_dtype manual_seed set_grad_enabled values indices real apply args "
    "forward remove method fc __init__ __mro__ __subclasses__ register_forward_hook "
    "val _v make _parameters __add__ __hash__ __call__ apply keys format_map"
).split()
OPERATORS = "+ - * / // % ** @ << & == < in and or".split()
# Some Python fuzzers find crashes only with these; keep them in the alphabet.
SPECIAL_TEXT = string.printable + "\x00\u2028\ufeff\uff3f\uff45\U0001d41e'\"{}"

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        st.sampled_from(ATOMS),
        lambda inner: st.one_of(
            st.builds("{}.{}".format, inner, st.sampled_from(ATTRIBUTES)),
            st.builds("({} {} {})".format, inner, st.sampled_from(OPERATORS), inner),
            st.builds("{}({})".format, inner, st.lists(inner, max_size=3).map(", ".join)),
            st.builds("{}[{}]".format, inner, inner),
            st.builds("f'{{{}}}'".format, inner),
        ),
        max_leaves=8,
    )


def statements() -> st.SearchStrategy[str]:
    names = st.sampled_from(["x", "y", "z", "m", "i"])
    expression = expressions()
    return st.one_of(
        st.builds("{} = {}".format, names, expression),
        expression,
        st.builds("for i in {}:\n    {} = {}".format, expression, names, expression),
        st.builds("while {}:\n    {} = {}".format, expression, names, expression),
        st.builds("def f(a):\n    return {}\n{} = f({})".format, expression, names, expression),
        st.builds("{}.backward()".format, expression),
        st.builds(
            "try:\n    {} = {}\nexcept {}:\n    {} = {}".format,
            names,
            expression,
            st.sampled_from(["Exception", "BaseException", "ValueError", "(TypeError, KeyError)"]),
            names,
            expression,
        ),
        st.builds("raise {}".format, expression),
        st.builds(
            "try:\n    raise E({})\nexcept (E, KeyError) as e:\n    {} = e.args".format,
            expression,
            names,
        ),
        st.builds("{}.val = {}".format, expression, expression),
        st.builds(
            "s = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD(m.parameters(), lr=0.1), "
            "lambda e: {})\ns.step()\n{} = s.get_last_lr()".format,
            expression,
            names,
        ),
        st.builds("{} = m.apply(lambda mod: {})".format, names, expression),
        st.builds(
            "class W({}):\n    def __{}__(self, *a):\n        return {}\n{} = W()".format,
            st.sampled_from(["V", "E", "Exception", "torch.nn.Module"]),
            st.sampled_from(["add", "iter", "len", "eq", "hash", "repr", "bool", "getitem"]),
            expression,
            names,
        ),
        st.builds("{} = lambda a: {}".format, names, expression),
        st.builds("{} = '{{}} {{:>5}}'.format({}, {})".format, names, expression, expression),
    )


def programs() -> st.SearchStrategy[str]:
    return st.lists(statements(), min_size=1, max_size=5).map(
        lambda body: PRELUDE + "\n".join(body)
    )


def assert_answered(client: TestClient, body: bytes) -> None:
    response = client.post("/api/graph", content=body, headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text[:500]
    if response.status_code != 200:
        assert response.headers["content-type"] == PROBLEM_JSON


def assert_pool_whole(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["workers"] == client.app.state.settings.workers  # type: ignore[attr-defined]
    assert health["sandbox"] == "full"


@EXAMPLES
@given(code=programs())
def test_generated_programs(client: TestClient, code: str) -> None:
    assert_answered(client, json.dumps({"code": code}).encode())


@EXAMPLES
@given(code=st.text(SPECIAL_TEXT, max_size=300))
def test_generated_text(client: TestClient, code: str) -> None:
    assert_answered(client, json.dumps({"code": code}).encode())


@EXAMPLES
@given(body=st.binary(max_size=300))
def test_generated_bytes(client: TestClient, body: bytes) -> None:
    assert_answered(client, body)


@EXAMPLES
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=6,
    )
)
def test_generated_json(client: TestClient, body: object) -> None:
    assert_answered(client, json.dumps(body).encode())


def test_workers_survived_the_fuzzing(client: TestClient) -> None:
    assert_pool_whole(client)
