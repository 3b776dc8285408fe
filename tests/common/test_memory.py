import sys

import pytest

from vqct.common.memory import fix_mmap_threshold


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_threshold_is_applied_on_glibc():
    assert fix_mmap_threshold() is True
