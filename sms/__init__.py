"""SMS channel: providers (Twilio, local outbox log), the sending worker, text catalogues.

The outbox itself (rows written in the booking transaction) lives in ``booking_core.outbox``;
this package only moves those rows to a provider.
"""
