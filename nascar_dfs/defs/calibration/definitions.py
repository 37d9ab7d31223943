import dagster as dg

from nascar_dfs.defs.calibration.assets import calibrated_model, race_history, race_slate
from nascar_dfs.defs.calibration.history import calibration_history
from nascar_dfs.defs.calibration.jobs import calibration_job
from nascar_dfs.defs.calibration.schedules import weekly_recalibration
from nascar_dfs.defs.calibration.sensors import new_race_sensor

defs = dg.Definitions(
    assets=[race_history, race_slate, calibrated_model, calibration_history],
    jobs=[calibration_job],
    schedules=[weekly_recalibration],
    sensors=[new_race_sensor],
)
