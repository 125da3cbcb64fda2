"""Activating an assmat's account: step 1 (PMI number and birth date), step 2 (e-mail and password), the
confirmation link."""
