"""Transports implementing :class:`ivr.io.CallIO`; none of them knows of bookings."""
