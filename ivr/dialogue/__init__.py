"""The dialogue: call flows, prompts and phrasing, written against :class:`ivr.io.CallIO`."""
