"""A harmless change: the 7.0 reboot path, where liveupdate_reboot() calls kho_finalize()
and a failed finalize unfreezes every session (luo_session_abort_reboot)."""

from dataclasses import replace

from luoverify.model.design import PROFILES

DESIGN = replace(PROFILES["upstream"], name="upstream-with-finalize", kho_finalize=True)
