"""Healthcare: four hospitals, each owning its admissions; target 30-day readmission.

The hospitals serve different populations (an older town, a young city, a smoking mining
region, a small referral centre for sicker patients), so their feature distributions and
sizes differ (non-IID), while one shared logistic model labels every admission. A federated
logistic regression can therefore get as close to the centralized one as the data allows.

Examples
--------
>>> from meshkit.scenarios import load_scenario
>>> sc = load_scenario("healthcare", scale=0.1)
>>> sc.training_products
['north_admissions', 'south_admissions', 'east_admissions', 'west_admissions']
>>> sc.frames["north_admissions"].select(sc.task.features).dtypes[0]
Float64
"""

from __future__ import annotations

import numpy as np
import polars as pl

from meshkit.scenarios._base import (
    DomainPopulation, Feature, Scenario, SupervisedSpec, build_supervised, column, person_names,
    timestamps,
)

__all__ = ["build", "SPEC"]

FEATURES = [
    Feature("age", "Age at admission, years.", "normal", 60.0, 15.0, 0.45, 18, 100, 0),
    Feature("bmi", "Body-mass index, kg/m2.", "normal", 27.0, 5.0, 0.25, 15, 55, 1),
    Feature("systolic_bp", "Systolic blood pressure at admission, mmHg.", "normal",
            135.0, 18.0, 0.20, 80, 220, 0),
    Feature("hba1c", "Glycated haemoglobin, percent.", "normal", 6.0, 1.0, 0.35, 4, 14, 1),
    Feature("prior_admissions", "Admissions in the previous 12 months.", "poisson",
            1.0, 1.0, 0.70, 0, 20, 0),
    Feature("length_of_stay_days", "Length of this stay, days.", "lognormal",
            5.0, 3.0, 0.45, 1, 60, 0),
    Feature("num_medications", "Medications prescribed at discharge.", "poisson",
            6.0, 3.0, 0.30, 0, 40, 0),
    Feature("is_smoker", "1 for a current smoker, else 0.", "bernoulli", 0.25, 0.43, 0.25, 0, 1, 0),
]

#               age        bmi        sbp         hba1c      prior  los          meds   smoker
_PARAMS = {
    "north": [(70, 11), (27.5, 4.5), (142, 17), (6.2, 0.9), (1.3,), (1.7, 0.5), (8.0,), (0.18,)],
    "south": [(42, 13), (29.0, 5.5), (126, 15), (5.8, 0.9), (0.6,), (1.2, 0.5), (4.0,), (0.22,)],
    "east": [(55, 12), (26.5, 4.5), (136, 18), (6.0, 1.1), (1.0,), (1.5, 0.5), (6.0,), (0.45,)],
    "west": [(63, 14), (28.0, 6.0), (140, 20), (6.8, 1.3), (2.2,), (2.0, 0.6), (10.0,), (0.25,)],
}
_DESCRIPTIONS = {
    "north": "North General: an older market-town population",
    "south": "South City Hospital: a young urban population",
    "east": "East Valley Hospital: a former mining region, many smokers",
    "west": "West Referral Centre: a small centre taking sicker patients",
}
_SIZES = {"north": 3000, "south": 2400, "east": 1800, "west": 1200}


def _extra_columns(rng: np.random.Generator, population: DomainPopulation, n: int) -> dict:
    first, last = person_names(rng, n)
    mrn = pl.Series(rng.choice(10_000_000, size=n, replace=False)).cast(pl.String).str.zfill(8)
    return {
        "medical_record_number": population.prefix + "-" + mrn,
        "patient_name": pl.Series(first) + " " + pl.Series(last),
        "sex": rng.choice(np.array(["F", "M"]), size=n),
        "admitted_at": timestamps(rng, n),
    }


SPEC = SupervisedSpec(
    scenario="healthcare",
    description="Four hospitals, each owning its admissions; label: readmission within 30 days.",
    product_description="Hospital admissions with discharge outcome",
    features=FEATURES,
    intercept=-1.1,
    target="readmitted_30d",
    target_description="1 when the patient was readmitted within 30 days of discharge.",
    id_column="admission_id",
    populations=[
        DomainPopulation(
            domain=f"{key}_hospital", product=f"{key}_admissions",
            owner=f"data-steward@{key}-hospital.example.org", description=_DESCRIPTIONS[key],
            size=_SIZES[key], prefix=key[:3].upper(),
            params={f.name: p for f, p in zip(FEATURES, _PARAMS[key])})
        for key in ("north", "south", "east", "west")
    ],
    extra_columns=_extra_columns,
    extra_properties=[
        column("medical_record_number", "string", "The patient's medical record number.",
               pii=True),
        column("patient_name", "string", "The patient's full name.", pii=True),
        column("sex", "string", "Sex recorded at admission.", valid_values=["F", "M"]),
        column("admitted_at", "timestamp", "When the patient was admitted."),
    ],
)


def build(scale: float = 1.0, seed: int = 42) -> Scenario:
    """Generate the healthcare scenario (about 8,400 admissions at ``scale=1``)."""
    return build_supervised(SPEC, scale, seed)
