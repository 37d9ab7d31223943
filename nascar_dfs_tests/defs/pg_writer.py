"""Helper process of test_postgres.py: request lineups on the instance the environment selects.

Run as `python -m nascar_dfs_tests.defs.pg_writer <storage dir> <data dir> <min_salary>`; prints one
JSON line with the plan and run ids. Uses the science stand-ins, so it needs no model fit.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import dagster as dg


def main(storage_dir: str, data_dir: str, min_salary: int) -> None:
    warnings.filterwarnings("ignore")
    from nascar_dfs.core.scenarios.spec import ConstraintSpec
    from nascar_dfs.definitions import build_definitions
    from nascar_dfs.platform import codecs, io_manager, science
    from nascar_dfs.platform.instance import prepare_dagster_home
    from nascar_dfs.platform.io_manager import NascarIOManager
    from nascar_dfs.platform.partitions import register_races
    from nascar_dfs.platform.plan import request_lineups
    from nascar_dfs.platform.resources import FileStorage, NascarData
    from nascar_dfs_tests.platform.conftest import SCIENCE_FUNCTIONS
    from nascar_dfs_tests.platform.fakes import RACES, UPCOMING, FakeScience

    stand_in = FakeScience(data_dir=Path(data_dir))
    for name in SCIENCE_FUNCTIONS:
        setattr(science, name, getattr(stand_in, name))
    io_manager.CODECS["calibrated_model"] = codecs.PickleCodec()

    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home())
    storage = FileStorage(base_path=storage_dir)
    defs = build_definitions(
        {
            "storage": storage,
            "io_manager": NascarIOManager(storage=storage),
            "nascar_data": NascarData(data_dir=data_dir),
        }
    )
    spec = ConstraintSpec(lineups=3, scenarios=100, min_salary=min_salary)
    with dg.DagsterInstance.get() as instance:
        register_races(instance, RACES)
        plan, results = request_lineups(
            defs, instance, UPCOMING, spec, storage_root=Path(storage_dir), scenario_ttl_hours=24.0
        )
    print(
        json.dumps({"spec": spec.key, "reused": plan.reuses_everything, "runs": [r.run_id for r in results]})
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
