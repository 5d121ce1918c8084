"""Everything that runs in a walled job process with a user's program and its data: the
allowlist interpreter and guard (sandbox/), evaluation, graph capture and gradients. Imports
only app.worker and app.contract; the server reaches it through app.worker.entry alone
(tests/test_boundary.py)."""
