"""Value types of reftrt side by side with the real TensorRT bindings, one argument form per test.

The table of forms and the comparison rule are in trt_valuecases.py.  Both versions run, each in
its own child interpreter; skipped only when the real bindings wheel cannot be downloaded.
"""
import pytest

import trt_support as ts
import trt_valuecases as vc

VERSIONS = ts.versions()


@pytest.fixture
def outcomes(real_bindings, child_results):
    def get(short):
        full, unavailable = real_bindings(short)
        if unavailable:
            pytest.skip(unavailable)
        result = child_results("trt_valuecases.py", short, "--real", full)
        if "ref_import_error" in result:
            pytest.fail(result["ref_import_error"], pytrace=False)
        return result

    return get


@pytest.mark.parametrize("case", vc.CASES, ids=[c.id for c in vc.CASES])
@pytest.mark.parametrize("short", VERSIONS)
def test_value_type(outcomes, short, case):
    result = outcomes(short)
    if case.optional in result["absent"]:
        pytest.skip(f"reftrt has no {case.optional}")
    real, ref = result["real"][case.id], result["ref"][case.id]
    if result["numpy_broken"]:
        real, ref = vc.masked(real), vc.masked(ref)
    problem = vc.compare(case, real, ref)
    if problem:
        pytest.fail(f"{case.id} with TensorRT {VERSIONS[short]}:\n{problem}", pytrace=False)
