"""The phone side of Registratura.

* :mod:`ivr.dialogue` — what is said and asked: the call flows, the per-call toolkit, phrasing of
  numbers and dates, the prompt catalogues.  It talks to the caller only through the port.
* :mod:`ivr.io` — the port (:class:`ivr.io.CallIO`) between the dialogue and any transport.
* :mod:`ivr.transports` — how a caller is reached, each knowing nothing of bookings: FastAGI
  (``agi``), Asterisk AudioSocket streamed audio (``audiosocket``), the console's browser phone
  (``browser``), the terminal phone playing Asterisk's side (``terminal``) and the scripted test
  caller (``scripted``).
* :mod:`ivr.runtime` — the composition of a running IVR from the container.
"""
