"""The benchmark's harness part still runs against the current harness (its figures are bench/'s business):
a tiny Entra initial cycle over each transport lands every in-scope user."""
import pytest

from bench.cycle import TRANSPORTS, run_cycle


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_tiny_cycle_runs_over_each_transport(transport):
    result = run_cycle(transport, users=20, groups=3)
    assert result["failures"] == 0 and result["target_users"] > 0
    assert result["target_groups"] == result["directory_groups"] > 0
