"""The differential hypothesis test against every mutant of the catalogue: the same state
machine as test_differential.py (reference vs model oracle, properties on the concrete
pages), run under each mutant design. A mutant is caught when some generated sequence
breaks a property on the reference (the machine then fails); which mutants this
random-testing column catches is pinned (derandomized, generation only, no shrinking)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from luoverify.model.mutants import MUTANTS
from tests.stateful.test_differential import WIDE, Differential

#: measured: the mutants 30 sequences of 60 calls catch (the rest need rarer sequences:
#: the exhaustive search catches every one, see tests/test_mutants.py)
CAUGHT = {"LUO-M3", "LUO-M7a", "LUO-M7b", "LUO-M7c", "LUO-M11", "KHO-M4", "KHO-M7",
          "KHO-M9", "KHO-M17", "KHO-M18", "KHO-M21"}


def caught_by_hypothesis(mutant_id: str) -> bool:
    mutant = next(m for m in MUTANTS if m.id == mutant_id)
    bounds = WIDE.with_overrides(**mutant.bounds) if mutant.bounds else WIDE

    class Machine(Differential):
        design = f"mutant:{mutant_id}"

    Machine.bounds = bounds
    try:
        run_state_machine_as_test(Machine, settings=settings(
            max_examples=30, stateful_step_count=60, derandomize=True, deadline=None,
            database=None, phases=[Phase.generate],
            suppress_health_check=[HealthCheck.too_slow]))
    except AssertionError as exc:
        if " broke [" in str(exc):  # a property broke on the reference: caught
            return True
        raise  # model and reference disagree: a real failure, not a catch
    return False


@pytest.mark.parametrize("mutant_id", [m.id for m in MUTANTS])
def test_hypothesis_column(mutant_id: str) -> None:
    """Verifies the differential hypothesis test catches exactly the pinned mutants (and
    that the model and the reference agree under every mutant until a property breaks:
    a divergence would also raise, so a pinned miss also proves agreement)."""
    assert caught_by_hypothesis(mutant_id) == (mutant_id in CAUGHT)
