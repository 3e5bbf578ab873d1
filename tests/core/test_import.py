"""``import autolog`` stays light: no ML framework, no pandas, no SQLAlchemy."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sklearn", "torch", "xgboost", "lightgbm", "statsmodels", "lightning", "pytorch_lightning",
         "keras", "pyspark", "pandas", "sqlalchemy", "matplotlib", "wrapt", "alembic", "numpy",
         "psutil", "pynvml")


def _modules_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_autolog_imports_nothing_heavy():
    loaded = _modules_after("import autolog")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert not any(m.startswith("autolog.integrations.") for m in loaded if m != "autolog.integrations._config")


def test_enabling_autolog_imports_no_framework():
    loaded = _modules_after("import autolog\nautolog.autolog()")
    frameworks = {"sklearn", "torch", "xgboost", "lightgbm", "statsmodels", "lightning",
                  "pytorch_lightning", "keras", "pyspark", "pandas", "sqlalchemy"}
    assert not loaded & frameworks, loaded & frameworks


def test_integration_aliases_import_no_framework():
    loaded = _modules_after("import autolog.sklearn, autolog.pytorch\nimport autolog\n"
                            "assert autolog.pytorch is autolog.torch")
    assert not loaded & {"sklearn", "torch"}
