"""The registry-driven parity suite: every registered component against torch 2.13.0."""

import pytest

import jloss.parity as parity

COMPONENTS = parity.components()


@pytest.mark.parametrize("component", COMPONENTS, ids=[c.name for c in COMPONENTS])
def test_parity(component):
    report = component.run()
    assert report.results, f"{component.name} has no cases"
    assert report.passed, str(report)
    # the suite must exercise both precisions where the component has a float path
    dtypes = {r.dtype for r in report.results}
    assert "float64" in dtypes, f"{component.name}: no float64 case"
