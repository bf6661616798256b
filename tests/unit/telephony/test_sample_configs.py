"""The sample Asterisk configs in dialplans/: the options that made real calls fail."""

from __future__ import annotations

import pytest

from support.asterisk_conf import DIALPLANS, Dialplan, read_sections, section

PJSIP = DIALPLANS / "pjsip.conf"
EXTENSIONS = DIALPLANS / "extensions.conf"


def _queue_outcome(variables: dict[str, str], *, in_time: bool) -> str:
    plan = Dialplan.read(EXTENSIONS)
    last = plan.walk("registry-queue", "s", dict(variables), in_time=in_time,
                     stop_apps=("Queue",))[-1]
    return "queue" if last.app == "Queue" else "closed"


# --- pjsip.conf: the outbound trunk -----------------------------------------------------------

def test_trunk_is_not_qualified_so_silent_providers_do_not_fail_calls():
    """A provider that ignores OPTIONS made the contact Unavailable: every Dial failed at once."""
    aor = section(PJSIP, "registry-trunk", "aor")
    assert aor.get("qualify_frequency", ["0"]) == ["0"]


def test_trunk_sends_the_clinic_number_not_the_login():
    endpoint = section(PJSIP, "registry-trunk", "endpoint")
    # from_user would replace the caller id in From with whatever it says (the login).
    assert "from_user" not in endpoint, "from_user hides the clinic number from the patient"
    assert endpoint.get("send_pai") == ["yes"]


@pytest.mark.parametrize("context", ["registry-outbound", "registry-agent-callback"])
def test_outbound_dialplan_sets_the_clinic_caller_id_before_dialling(context):
    prios = Dialplan.read(EXTENSIONS).contexts[context]["_[+0-9]."]
    apps = [(p.app, p.args) for p in prios]
    cid = apps.index(("Set", 'CALLERID(all)="${REG_CLINIC_NAME}" <${REG_CLINIC_CID}>'))
    dial = next(i for i, (app, _) in enumerate(apps) if app == "Dial")
    assert cid < dial


def test_every_pjsip_section_has_a_type():
    assert all(opts.get("type") for _, opts in read_sections(PJSIP))


# --- extensions.conf: one source for the opening hours ----------------------------------------

@pytest.mark.parametrize(("variables", "in_time", "expected"), [
    ({"REG_DESK_OPEN": "0"}, True, "closed"),  # a public holiday on a weekday morning
    ({"REG_DESK_OPEN": "1"}, False, "queue"),  # Saturday hours the backstop doesn't know
    ({"REG_DESK_OPEN": "1", "REG_FORCE_CLOSED": "1"}, True, "closed"),
    ({}, True, "queue"),  # IVR down: only then the backstop hours decide
    ({}, False, "closed"),
])
def test_queue_obeys_the_ivrs_verdict_on_hours(variables, in_time, expected):
    assert _queue_outcome(variables, in_time=in_time) == expected


def test_every_local_jump_target_exists():
    plan = Dialplan.read(EXTENSIONS)
    for context, extens in plan.contexts.items():
        for exten, prios in extens.items():
            labels = plan.labels(context, exten)
            for prio in prios:
                if prio.app not in ("GotoIf", "GotoIfTime", "Goto") or "," in prio.args.split(
                        "?")[-1]:
                    continue
                targets = prio.args.rpartition("?")[2] if "?" in prio.args else prio.args
                for target in filter(None, targets.split(":")):
                    assert target in labels or target.startswith(("qs-", "tel")), (
                        f"{context},{exten}: {prio.app}({prio.args}) -> {target}")
