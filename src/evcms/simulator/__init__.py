"""Simulated charging stations: real OCPP clients over real sockets, built on evcms.ocpp.

Used by ``evcms serve --demo`` and ``evcms simulate`` so the network is alive from the first
minute. They are deliberately ordinary stations: they know nothing about evcms internals.
"""
