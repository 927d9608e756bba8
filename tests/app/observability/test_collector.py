"""A serving worker settles its garbage collector once its app is built; nothing else does.

Each case runs in a process of its own: the collector's state is the whole process's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

REPORT = "import gc; print(gc.get_threshold()[0], gc.get_freeze_count() > 0)"


def collector_after(code: str, tmp_path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{REPORT}"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SCV_DATA_DIR": str(tmp_path), "SCV_LOG_LEVEL": "ERROR"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_a_worker_built_for_serving_freezes_its_start_up_heap(tmp_path: Path) -> None:
    code = "from app.main import app_from_environment\napp_from_environment()"

    assert collector_after(code, tmp_path) == "10000 True"


def test_building_an_app_alone_leaves_the_collector_as_python_set_it(tmp_path: Path) -> None:
    code = (
        "from app.main import create_app\nfrom app.settings import Settings\ncreate_app(Settings())"
    )

    assert collector_after(code, tmp_path) == "700 False"
