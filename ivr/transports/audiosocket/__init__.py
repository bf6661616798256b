"""Asterisk AudioSocket: streamed audio both ways, with AGI kept as the control channel."""
