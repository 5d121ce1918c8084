"""The server: HTTP, routes, the process pools, cache, DOT and layout, metrics. Of the job
processes' code it names only app.worker.entry, the module the zygote runs
(tests/test_boundary.py)."""
