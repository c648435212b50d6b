"""Background tasks of the sequencing app: thin wrappers over its services."""

from __future__ import annotations

from datetime import date
from typing import Any

from django_tasks import task

from .services import run_daily


@task()
def daily_run_partition(as_of: str, partition: int, partitions: int) -> dict[str, Any]:
    """Run the daily policy for customers with id % partitions == partition;
    returns the partition's ``run --json`` summary."""
    summary = run_daily(as_of=date.fromisoformat(as_of), partition=(partition, partitions))
    return summary.as_dict()
