"""Contracts declared to the PMI (R421-39): arrival, change, departure; the capacity check before saving; the
erasure of children's data a set time after departure."""
