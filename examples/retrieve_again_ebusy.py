"""A harmless change: a second RETRIEVE_SESSION of the same name answers EBUSY instead of
EINVAL. Only a return code changes, on both sides (model and reference); the check judges
the variant's coverage against upstream's and lists the change, it does not fail."""

from dataclasses import replace
from typing import Any

from luoverify.model import errno as E
from luoverify.model.design import PROFILES


def model_retrieve_session(self: Any, session: Any) -> int:
    """model: the original do_retrieve_session (type(self) is the design's own kernel
    class), EBUSY where it answered EINVAL."""
    ret: int = type(self).do_retrieve_session(self, session)
    return -E.EBUSY if ret == -E.EINVAL else ret


def reference_retrieve_session(self: Any, devfd: int, name: str) -> int:
    """reference: the original ioctl_retrieve_session, the same change."""
    ret: int = type(self).ioctl_retrieve_session(self, devfd, name)
    return -E.EBUSY if ret == -E.EINVAL else ret


DESIGN = replace(PROFILES["upstream"], name="retrieve-again-ebusy")
STEPS = {"model.do_retrieve_session": model_retrieve_session,
         "reference.kernel.ioctl_retrieve_session": reference_retrieve_session}
