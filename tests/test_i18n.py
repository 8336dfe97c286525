"""Every error a person can meet has a Chinese reading (the interface speaks both)."""

import importlib
import pkgutil

import parcelguard
from parcelguard.core.errors import ParcelGuardError
from parcelguard.i18n import ERROR_GLOSSES_ZH
from parcelguard.labels.token import Reason


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_error_code_of_the_package_has_a_chinese_gloss() -> None:
    for module in pkgutil.walk_packages(parcelguard.__path__, "parcelguard."):
        if ".migrations." not in module.name:
            importlib.import_module(module.name)
    codes = {cls.code for cls in _subclasses(ParcelGuardError) if isinstance(cls.code, str)}
    codes |= {reason.value for reason in Reason}
    missing = sorted(code for code in codes if code not in ERROR_GLOSSES_ZH)
    assert missing == []
