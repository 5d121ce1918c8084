"""The page's example programs: trusted code the page offers, and that every job process runs
once before its first job (app.worker.entry)."""

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "static" / "examples.json"
