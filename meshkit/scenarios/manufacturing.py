"""Manufacturing: four plants, each owning its machine sensor readings; target machine failure.

The plants run different machines in different climates (a hot humid plant, a cold one, a
high-speed line, an old line with worn tools), so their feature distributions and sizes
differ (non-IID), while one shared logistic model labels every reading as followed by a
failure or not. The sensor data holds no personal data.

Examples
--------
>>> from meshkit.scenarios import load_scenario
>>> sc = load_scenario("manufacturing", scale=0.1)
>>> sc.task.target
'machine_failure'
"""

from __future__ import annotations

import numpy as np
import polars as pl

from meshkit.scenarios._base import (
    DomainPopulation, Feature, Scenario, SupervisedSpec, build_supervised, column, timestamps,
)

__all__ = ["build", "SPEC", "MACHINE_TYPES"]

MACHINE_TYPES = ["L", "M", "H"]

FEATURES = [
    Feature("air_temperature_k", "Ambient air temperature, kelvin.", "normal",
            300.0, 2.0, 0.30, 280, 330, 1),
    Feature("process_temperature_k", "Process temperature, kelvin.", "normal",
            310.0, 1.5, 0.25, 290, 340, 1),
    Feature("rotational_speed_rpm", "Spindle speed, revolutions per minute.", "normal",
            1500.0, 180.0, -0.45, 900, 3000, 0),
    Feature("torque_nm", "Torque, newton-metres.", "normal", 40.0, 10.0, 0.80, 2, 90, 1),
    Feature("tool_wear_min", "Minutes the current tool has been in use.", "uniform",
            110.0, 65.0, 0.90, 0, 300, 0),
    Feature("vibration_mm_s", "Vibration velocity, mm/s (RMS).", "lognormal",
            3.0, 1.5, 0.55, 0, 50, 2),
    Feature("humidity_pct", "Relative humidity on the shop floor, percent.", "normal",
            50.0, 12.0, 0.15, 5, 100, 1),
]

#            air            process        speed        torque      wear       vibration    humidity
_PARAMS = {
    "detroit": [(298, 1.8), (308.5, 1.3), (1520, 170), (39, 9), (0, 220), (0.9, 0.40), (45, 9)],
    "monterrey": [(303, 1.6), (312.0, 1.2), (1480, 160), (42, 10), (0, 240), (1.1, 0.45), (68, 10)],
    "stuttgart": [(297, 1.5), (307.5, 1.1), (1700, 190), (37, 8), (0, 230), (0.9, 0.35), (42, 8)],
    "shenzhen": [(301, 2.0), (310.5, 1.5), (1400, 150), (46, 11), (40, 280), (1.3, 0.50), (60, 12)],
}
_DESCRIPTIONS = {
    "detroit": "Detroit: the reference line",
    "monterrey": "Monterrey: a hot, humid plant",
    "stuttgart": "Stuttgart: a high-speed, low-torque line",
    "shenzhen": "Shenzhen: heavy loads and long tool runs",
}
_SIZES = {"detroit": 3000, "monterrey": 2200, "stuttgart": 2600, "shenzhen": 1800}


def _extra_columns(rng: np.random.Generator, population: DomainPopulation, n: int) -> dict:
    machine = pl.Series(rng.integers(1, 41, size=n)).cast(pl.String).str.zfill(3)
    return {
        "machine_id": population.prefix + "-M" + machine,
        "machine_type": rng.choice(np.array(MACHINE_TYPES), size=n, p=[0.5, 0.3, 0.2]),
        "recorded_at": timestamps(rng, n),
    }


SPEC = SupervisedSpec(
    scenario="manufacturing",
    description="Four plants, each owning its machine sensor readings; label: machine failure.",
    product_description="Machine sensor readings with failure outcome",
    features=FEATURES,
    intercept=-3.5,
    target="machine_failure",
    target_description="1 when the machine failed within 24 hours of the reading.",
    id_column="reading_id",
    populations=[
        DomainPopulation(
            domain=f"{key}_plant", product=f"{key}_sensor_readings",
            owner=f"reliability@{key}-plant.example.org", description=_DESCRIPTIONS[key],
            size=_SIZES[key], prefix=key[:3].upper(),
            params={f.name: p for f, p in zip(FEATURES, _PARAMS[key])})
        for key in ("detroit", "monterrey", "stuttgart", "shenzhen")
    ],
    extra_columns=_extra_columns,
    extra_properties=[
        column("machine_id", "string", "The machine the reading comes from."),
        column("machine_type", "string", "Machine quality variant: L(ow), M(edium), H(igh).",
               valid_values=MACHINE_TYPES),
        column("recorded_at", "timestamp", "When the reading was taken."),
    ],
)


def build(scale: float = 1.0, seed: int = 42) -> Scenario:
    """Generate the manufacturing scenario (about 9,600 readings at ``scale=1``)."""
    return build_supervised(SPEC, scale, seed)
