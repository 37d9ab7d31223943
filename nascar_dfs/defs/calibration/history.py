"""calibration_history: CRPS per race over time, drawn as a trend plot and a PIT histogram."""

import base64
import io

import dagster as dg
import numpy as np
import pandas as pd

from nascar_dfs.defs.calibration.assets import CALIBRATED_MODEL
from nascar_dfs.platform import versions
from nascar_dfs.platform.materializations import Materialized, all_materializations

COLUMNS = ["race", "fitted_at", "model_version", "crps", "baseline_crps", "improvement"]


def history_table(records: list[Materialized]) -> pd.DataFrame:
    """One row per scored calibration, oldest first."""
    rows = [
        {
            "race": m.partition,
            "fitted_at": m.value("fitted_at"),
            "model_version": m.value("model_version"),
            "crps": float(m.value("crps")),
            "baseline_crps": float(m.value("baseline_crps")),
        }
        for m in records
        if m.value("crps") is not None and m.value("baseline_crps") is not None
    ]
    table = pd.DataFrame(rows, columns=COLUMNS[:-1])
    table["improvement"] = 1.0 - table["crps"] / table["baseline_crps"]
    return table


def unscored_note(records: list[Materialized]) -> str:
    """What the history says before any race is scored: a model gets a finish CRPS only once its
    race has results, so the models of upcoming races are listed as waiting for them."""
    waiting = sorted({m.partition for m in records if m.partition and m.value("crps") is None})
    if not waiting:
        return "no calibrated model yet: materialize calibrated_model for a race"
    return (
        f"no race scored yet: {len(waiting)} model(s) wait for their race's results to be scored"
        f" (finish CRPS against the naive baseline): {', '.join(waiting)}"
    )


def latest_pit(records: list[Materialized]) -> np.ndarray:
    """PIT values of the latest model of every race, pooled."""
    by_race: dict[str, list[float]] = {}
    for m in records:
        pit = m.value("pit")
        if m.partition and pit:
            by_race[m.partition] = list(pit)
    return np.array([u for values in by_race.values() for u in values], dtype=float)


def render_png(table: pd.DataFrame, pit: np.ndarray) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (trend, hist) = plt.subplots(1, 2, figsize=(10, 3.6))
    x = np.arange(len(table))
    trend.plot(x, table["crps"], marker="o", label="model")
    trend.plot(x, table["baseline_crps"], marker="s", linestyle="--", label="naive baseline")
    trend.set_xticks(x, table["race"], rotation=45, ha="right", fontsize=7)
    trend.set_ylabel("finish CRPS (lower is better)")
    trend.set_title("Calibration CRPS per model")
    trend.legend(fontsize=8)
    hist.hist(pit, bins=10, range=(0.0, 1.0), edgecolor="black")
    if pit.size:
        hist.axhline(pit.size / 10, color="red", linestyle="--", label="calibrated")
        hist.legend(fontsize=8)
    hist.set_title(f"PIT of finish ({pit.size} drivers)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


@dg.asset(
    group_name="calibration",
    code_version=versions.CALIBRATION_HISTORY_CODE,
    deps=[dg.AssetDep(CALIBRATED_MODEL, partition_mapping=dg.AllPartitionMapping())],
)
def calibration_history(context: dg.AssetExecutionContext) -> dg.Output[pd.DataFrame]:
    """Finish CRPS of every scored model against the naive baseline, from the models' metadata."""
    records = all_materializations(context.instance, CALIBRATED_MODEL)
    table = history_table(records)
    pit = latest_pit(records)
    png = base64.b64encode(render_png(table, pit)).decode("ascii")
    return dg.Output(
        table,
        metadata={
            "scored_models": len(table),
            "mean_improvement": float(table["improvement"].mean()) if len(table) else float("nan"),
            "plot": dg.MetadataValue.md(f"![CRPS trend and PIT histogram](data:image/png;base64,{png})"),
            "table": dg.MetadataValue.md(
                table.tail(20).to_markdown(index=False) if len(table) else unscored_note(records)
            ),
        },
    )
