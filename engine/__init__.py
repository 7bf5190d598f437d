"""Daraport engine: generic platform code. Knows no feature; never imports ``modules``."""
