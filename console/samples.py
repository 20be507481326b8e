"""Where the sample jobs are: the repository's sample_jobs/ folder."""

from __future__ import annotations

from pathlib import Path


def sample_jobs_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "sample_jobs"
