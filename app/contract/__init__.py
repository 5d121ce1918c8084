"""What the server and the job processes agree on: the typed structures that cross the pipe
(schemas, the program's errors), the settings both read, and small pure helpers both need.
Imports nothing from app.server or app.worker (tests/test_boundary.py)."""
