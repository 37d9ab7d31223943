"""A minimal code location for the Dagster fault-injection tests: one job that sleeps.

The properties under test (queued runs survive a daemon restart, a killed run worker is retried)
belong to the instance settings of the project's dagster.yaml, not to the science; a job that
takes seconds instead of a calibration keeps the tests bounded on two cores.
"""

# No `from __future__ import annotations`: Dagster reads the Config field types at runtime.
import time

import dagster as dg


class SleepConfig(dg.Config):
    seconds: float = 1.0


@dg.op
def sleep_then_succeed(config: SleepConfig) -> float:
    time.sleep(config.seconds)
    return config.seconds


@dg.job(tags={"dagster/max_runtime": "120"})
def sleep_job() -> None:
    sleep_then_succeed()


defs = dg.Definitions(jobs=[sleep_job])
