"""Resources that must not drift from what they configure: the fit settings and the scenario TTL."""

from __future__ import annotations

import dataclasses

import pytest

from nascar_dfs.core.model.fit import FitConfig
from nascar_dfs.platform.resources import (
    DEFAULT_SCENARIO_TTL_HOURS,
    SCENARIO_TTL_ENV,
    FitSettings,
    scenario_ttl_hours,
)


def test_every_scalar_fit_config_setting_is_a_fit_setting_and_nothing_else() -> None:
    scalar = {f.name for f in dataclasses.fields(FitConfig) if f.name != "priors"}
    assert set(FitSettings.model_fields) == scalar


def test_fit_settings_forward_only_what_was_set_and_fit_config_accepts_it() -> None:
    settings = FitSettings(chains=2, draws=50, sampler="pymc", max_rhat=1.2)
    assert settings.options() == {"chains": 2, "draws": 50, "sampler": "pymc", "max_rhat": 1.2}
    config = FitConfig(**settings.options())
    assert (config.chains, config.draws, config.tune) == (2, 50, FitConfig().tune)
    assert FitSettings().options() == {}


def test_the_scenario_ttl_is_one_setting_with_a_default_and_a_clear_error() -> None:
    assert scenario_ttl_hours({}) == DEFAULT_SCENARIO_TTL_HOURS == 24.0
    assert scenario_ttl_hours({SCENARIO_TTL_ENV: "6.5"}) == 6.5
    for bad in ("0", "-1", "soon", "nan"):
        with pytest.raises(ValueError, match=SCENARIO_TTL_ENV):
            scenario_ttl_hours({SCENARIO_TTL_ENV: bad})
