"""Learned stage rates: priors, learning, robustness, storage."""

from __future__ import annotations

import json
import math
import random

import pytest

from stagecoach.domain.rates import (
    ALPHA,
    FIRST_RUN_VAR,
    PRIOR_SD,
    WITHIN_RUN_VAR,
    RateKey,
    StageRate,
    lookup,
    prior,
    update,
)


def learn(rate: StageRate, runs: list[tuple[float, float]]) -> StageRate:
    for units, seconds in runs:
        rate = update(rate, units, seconds)
    return rate


def test_transcription_prior_is_the_settings_factor() -> None:
    p = prior("audio", "Transcribing", "audio_seconds", prior_factor=4.0)
    assert p.n == 0
    assert p.spu == pytest.approx(4.0)
    assert p.sd_log_spu == pytest.approx(PRIOR_SD)
    assert prior("audio", "Transcribing", "audio_seconds", prior_factor=2.5).spu == 2.5


@pytest.mark.parametrize("unit", ["audio_seconds", "pages", "rows", "bytes"])
def test_other_units_have_a_cheap_wide_prior(unit: str) -> None:
    p = prior("any", "Extracting", unit)
    assert 0 < p.spu < 1.0
    assert p.sd_log_spu >= 1.0


def test_unknown_unit_gets_the_widest_prior() -> None:
    assert prior("plugin", "Frobnicating", "widgets").sd_log_spu > PRIOR_SD


def test_first_run_replaces_the_prior() -> None:
    p = prior("audio", "Transcribing", "audio_seconds")
    r = update(p, units=600, seconds=120 + p.startup_seconds)
    assert r.n == 1
    assert r.spu == pytest.approx(0.2)
    assert r.var_log_spu == pytest.approx(FIRST_RUN_VAR)


def test_five_runs_at_a_fifth_of_real_time_converge_within_10_percent() -> None:
    rng = random.Random(5)
    r = prior("audio", "Transcribing", "audio_seconds")
    for _ in range(5):
        units = rng.uniform(60, 1200)
        r = update(r, units, r.startup_seconds + units * 0.2 * math.exp(rng.gauss(0, 0.1)))
    assert r.n == 5
    assert r.spu == pytest.approx(0.2, rel=0.10)


def test_spread_is_learned_from_noisy_runs() -> None:
    rng = random.Random(11)
    r = prior("doc", "Extracting", "pages")
    for _ in range(60):
        r = update(r, 100, 100 * 0.05 * math.exp(rng.gauss(0, 0.3)))
    assert r.spu == pytest.approx(0.05, rel=0.25)
    assert 0.15 < r.sd_log_spu < 0.6


def test_one_wild_run_does_not_drag_the_rate_far() -> None:
    r = learn(prior("audio", "Transcribing", "audio_seconds"), [(600, 120)] * 10)
    before = r.spu
    r = update(r, 600, 120 * 20)  # a run that sat behind a stuck disk
    assert r.spu < before * 1.5


def test_a_cold_first_run_is_forgotten_after_a_few_normal_ones() -> None:
    # The first job after a worker starts pays for imports: 20 times slower, slow to start.
    p = prior("document", "Extracting", "pages")
    r = update(p, 10, 0.2, startup_seconds=0.09)
    for _ in range(4):
        r = update(r, 10, 0.01, startup_seconds=0.002)
    assert r.spu == pytest.approx((0.01 - 0.002) / 10, rel=0.1)  # the start-up taken off
    assert r.startup_seconds == pytest.approx(0.002)
    # and it is remembered as a run: it widened the spread
    assert r.var_log_spu > FIRST_RUN_VAR


def test_a_state_stored_before_recent_runs_were_kept_still_learns() -> None:
    old = StageRate.from_dict({"n": 9, "mean_log_spu": math.log(0.2), "var_log_spu": 0.01})
    assert old.recent == ()
    r = update(old, 100, 20.0)
    assert r.recent == (pytest.approx(math.log(0.2)),) and r.spu == pytest.approx(0.2)
    assert StageRate.from_dict(json.loads(json.dumps(r.to_dict()))) == r


def test_a_lasting_change_of_speed_is_learned_within_a_few_runs() -> None:
    r = learn(prior("audio", "Transcribing", "audio_seconds"), [(600, 120)] * 10)
    r = learn(r, [(600, 240)] * 5)  # moved to a machine half as fast
    assert r.spu == pytest.approx(0.4, rel=0.2)


def test_weight_of_the_newest_run_settles_at_alpha() -> None:
    r = StageRate(20, math.log(1.0), 0.01)
    r2 = update(r, 1, math.e**0.1)  # inside the clip
    assert r2.mean_log_spu == pytest.approx(ALPHA * 0.1)


def test_measured_startup_is_learned_and_taken_off_the_rate() -> None:
    r = prior("audio", "Transcribing", "audio_seconds")
    r = update(r, 100, 30, startup_seconds=10)
    assert r.startup_seconds == 10
    assert r.spu == pytest.approx(0.2)


def test_a_run_with_no_units_only_teaches_startup() -> None:
    r = StageRate(3, math.log(0.2), 0.05, 1.0)
    r2 = update(r, 0, 4, startup_seconds=4)
    assert (r2.n, r2.mean_log_spu) == (r.n, r.mean_log_spu)
    assert r2.startup_seconds > 1.0


def test_predictive_spread_is_wider_while_history_is_short() -> None:
    few = StageRate(2, 0.0, 0.04)
    many = StageRate(50, 0.0, 0.04)
    assert few.predictive_var > many.predictive_var > 0.04
    assert prior("a", "b", "pages").predictive_var == pytest.approx(PRIOR_SD**2)


def test_rate_survives_a_round_trip_through_a_table_row() -> None:
    r = StageRate(7, -1.6, 0.04, 2.5, within_var=0.007)
    row = json.loads(json.dumps(r.to_dict()))
    assert StageRate.from_dict(row) == r


def test_lookup_prefers_the_engine_then_the_stage_then_the_prior() -> None:
    whisper = StageRate(5, math.log(0.1), 0.01)
    any_engine = StageRate(5, math.log(0.3), 0.01)
    rates = {
        RateKey("audio", "Transcribing", "whisper"): whisper,
        RateKey("audio", "Transcribing", ""): any_engine,
    }
    assert lookup(rates, "audio", "Transcribing", "whisper", "audio_seconds") is whisper
    assert lookup(rates, "audio", "Transcribing", "pocketsphinx", "audio_seconds") is any_engine
    assert lookup({}, "audio", "Transcribing", "x", "audio_seconds").spu == pytest.approx(4.0)


def test_uneven_runs_teach_a_wider_within_run_spread() -> None:
    even = uneven = StageRate(5, math.log(0.2), 0.02, 0.0)
    for _ in range(6):
        even = update(even, 1000, 200, half_seconds=100)
        uneven = update(uneven, 1000, 200, half_seconds=60)  # first half 60 s, second 140 s
    assert even.within_var < WITHIN_RUN_VAR < uneven.within_var
    assert uneven.within_var == pytest.approx(math.log(140 / 60) ** 2 / 4, rel=0.2)


def test_without_a_half_time_the_within_run_spread_is_kept() -> None:
    r = StageRate(5, math.log(0.2), 0.02, 0.0, within_var=0.01)
    assert update(r, 1000, 200).within_var == 0.01


def test_rows_stored_before_within_var_existed_still_load() -> None:
    old_row = {"n": 3, "mean_log_spu": -1.0, "var_log_spu": 0.1, "startup_seconds": 1.0}
    assert StageRate.from_dict(old_row).within_var == WITHIN_RUN_VAR
