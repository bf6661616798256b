"""Which number the caller dialled, from the AGI environment Asterisk sends (real TCP).

The shipped dialplan passes ``${REG_DID}`` as the first ``AGI()`` argument; a dialplan running
``AGI()`` in its ``_X.`` extension gives it as ``agi_extension``; ``agi_dnid`` comes last (on a
provider registering with a login it holds the login, not the DID).
"""

from __future__ import annotations

from typing import Any

import pytest

from ivr.transports.agi.server import AgiRequest
from ivr.transports.terminal import AsteriskCall


@pytest.mark.parametrize(("args", "extension", "dnid", "expected"), [
    (["4951230007"], "s", "trunklogin", "4951230007"),  # the dialplan's ${REG_DID}
    (["+74951230007"], "s", "unknown", "+74951230007"),
    ([""], "4951230003", "unknown", "4951230003"),  # REG_DID empty: a numeric extension
    ([], "+74951230003", "4951230000", "+74951230003"),
    ([""], "s", "4951230000", "4951230000"),  # only the DNID
    (["ru", "x y"], "s", "74950000000", "74950000000"),  # other arguments are not numbers
    ([], "s", "unknown", ""),  # nothing known: the unknown-number greeting
])
def test_dialled_number_precedence(agi_server: Any, args, extension, dnid, expected) -> None:
    seen: list[AgiRequest] = []
    server = agi_server({"registry": seen.append})
    host, port = server.server_address
    AsteriskCall(host, port, dnid=dnid, agi_args=args, idle_timeout=10.0,
                 extra_env={"agi_extension": extension}).run()
    (request,) = seen
    assert request.dialled_number == expected
    assert request.info().called_number == expected
