"""The pure core of Arrears: no Django, no clock, no I/O."""
