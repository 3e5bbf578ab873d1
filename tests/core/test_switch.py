"""The autolog() switch, the registry and post-import hooks, with a toy framework of our own.

The toy framework is a real module on disk imported through the real import system; the
integration for it goes through the same registry, hooks and patch helper as the real ones.
"""

from __future__ import annotations

import sys
import textwrap
import warnings

import pytest

import autolog
from autolog.errors import AutologWarning, InvalidInputError
from autolog.integrations import _config, _registry
from autolog.integrations._registry import Integration, register

TOY_FRAMEWORK = """
class Model:
    def fit(self, x):
        '''Fit the toy model.'''
        self.fitted_ = x
        return self
"""

TOY_INTEGRATION = """
from autolog.integrations import configure, _patch
from autolog.integrations._common import log_params

NAME = "toyfw"

def autolog(*, disable=False, exclusive=False, silent=False, log_models=True,
            extra_tags=None, disable_for_unsupported_versions=False, shout=False):
    configure(NAME, dict(locals()))

def apply(module):
    _patch.patch(NAME, module.Model, "fit",
                 after=lambda call, result: log_params(call.run, {"x": call.args[0],
                                                                   "shout": call.settings["shout"]}))
"""


@pytest.fixture
def toy(tmp_path, monkeypatch):
    (tmp_path / "toyfw_framework.py").write_text(textwrap.dedent(TOY_FRAMEWORK))
    (tmp_path / "toyfw_integration.py").write_text(textwrap.dedent(TOY_INTEGRATION))
    monkeypatch.syspath_prepend(str(tmp_path))
    integration = Integration("toyfw", "toyfw_integration", ("toyfw_framework",), "pytest", ">=1")
    register(integration)
    yield integration
    autolog.integrations.configure("toyfw", {"disable": True})
    _registry._REGISTRY.pop("toyfw", None)
    for name in ("toyfw_framework", "toyfw_integration"):
        sys.modules.pop(name, None)


def _runs():
    return autolog.search_runs(output_format="list")


def test_enable_before_import_patches_on_import(toy):
    autolog.autolog(include=["toyfw"])
    assert "toyfw_framework" not in sys.modules  # enabling imported nothing
    import toyfw_framework

    toyfw_framework.Model().fit(3)
    [run] = _runs()
    assert run.data.params == {"x": "3", "shout": "False"}
    assert run.data.tags["autolog.integration"] == "toyfw"
    assert run.info.run_name == "Model" and run.info.status == "FINISHED"


def test_enable_after_import_patches_at_once(toy):
    import toyfw_framework

    autolog.autolog(include=["toyfw"])
    toyfw_framework.Model().fit(1)
    assert len(_runs()) == 1
    assert toyfw_framework.Model.fit.__doc__ == "Fit the toy model."


def test_explicit_call_wins_and_global_disable_restores_originals(toy):
    import toyfw_framework
    import toyfw_integration

    original = toyfw_framework.Model.__dict__["fit"]
    toyfw_integration.autolog(shout=True)
    autolog.autolog(include=["toyfw"])  # global call does not override the explicit one
    toyfw_framework.Model().fit(1)
    assert _runs()[0].data.params["shout"] == "True"
    autolog.autolog(disable=True)
    assert toyfw_framework.Model.__dict__["fit"] is original
    toyfw_framework.Model().fit(2)
    assert len(_runs()) == 1
    toyfw_integration.autolog()  # flags not passed return to their defaults
    assert _config.get_config("toyfw")["shout"] is False
    toyfw_framework.Model().fit(5)
    assert len(_runs()) == 2


def test_include_exclude_and_validation(toy):
    import toyfw_framework

    autolog.autolog(include=["toyfw"], exclude=["toyfw"])
    toyfw_framework.Model().fit(1)
    assert _runs() == []
    with pytest.raises(InvalidInputError, match="nosuch"):
        autolog.autolog(include=["nosuch"])
    with pytest.raises(InvalidInputError):
        autolog.autolog(max_tuning_runs=-1)


def test_exclusive_logs_nothing_into_a_user_run(toy):
    import toyfw_framework
    import toyfw_integration

    toyfw_integration.autolog(exclusive=True)
    with autolog.start_run() as user_run:
        toyfw_framework.Model().fit(1)
    assert autolog.Client().get_run(user_run.info.run_id).data.params == {}
    toyfw_integration.autolog()
    with autolog.start_run() as user_run:
        toyfw_framework.Model().fit(1)
    assert autolog.Client().get_run(user_run.info.run_id).data.params["x"] == "1"
    assert len(_runs()) == 2  # no run of its own when a user run is active


def test_version_outside_tested_range_warns_once_per_call(toy, monkeypatch):
    _registry._REGISTRY["toyfw"] = Integration("toyfw", "toyfw_integration", ("toyfw_framework",),
                                                "pytest", "<1")
    with pytest.warns(AutologWarning, match="outside the versions") as record:
        autolog.autolog(include=["toyfw"])
    assert len([w for w in record if "toyfw" in str(w.message)]) == 1
    import toyfw_integration

    with pytest.warns(AutologWarning, match="is disabled"):
        toyfw_integration.autolog(disable_for_unsupported_versions=True)
    assert not _config.is_enabled("toyfw")


def test_registration_is_checked_at_once():
    with pytest.raises(InvalidInputError):
        register(Integration("bad name", "m", ("x",), "d", ">=1"))
    with pytest.raises(InvalidInputError):
        register(Integration("ok", "m", (), "d", ">=1"))
    with pytest.raises(InvalidInputError, match="version range"):
        register(Integration("ok", "m", ("x",), "d", "about 1"))
    with pytest.raises(InvalidInputError, match="already registered"):
        register(Integration("sklearn", "somewhere.else", ("sklearn",), "scikit-learn", ">=1"))


def test_entry_point_integrations_are_loaded(tmp_path, monkeypatch):
    dist = tmp_path / "toyplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[autolog.integrations]\ntoyplug = toyplugin_mod:INTEGRATION\n")
    (tmp_path / "toyplugin_mod.py").write_text(
        "from autolog.integrations._registry import Integration\n"
        "INTEGRATION = Integration('toyplug', 'toyfw_integration', ('toyplug_fw',), 'toyplugin', '>=1')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_registry, "_entry_points_loaded", False)
    try:
        assert "toyplug" in {i.name for i in _registry.integrations()}
    finally:
        _registry._REGISTRY.pop("toyplug", None)
        sys.modules.pop("toyplugin_mod", None)


def test_broken_apply_never_fails_the_import(toy, tmp_path):
    (tmp_path / "toyfw_integration.py").write_text(
        textwrap.dedent(TOY_INTEGRATION) + "\ndef apply(module):\n    raise RuntimeError('bug')\n")
    sys.modules.pop("toyfw_integration", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        autolog.autolog(include=["toyfw"])
        import toyfw_framework  # must import fine despite the broken integration

    assert toyfw_framework.Model().fit(1).fitted_ == 1
    assert any("could not enable the toyfw integration" in str(w.message) for w in caught)


def test_enabling_leaves_the_root_logger_alone(toy):
    import logging

    root = logging.getLogger()
    before = (root.level, list(root.handlers), logging.getLogger("autolog").handlers[:])
    autolog.autolog(include=["toyfw"])
    import toyfw_framework

    toyfw_framework.Model().fit(1)
    assert (root.level, list(root.handlers), logging.getLogger("autolog").handlers[:]) == before
