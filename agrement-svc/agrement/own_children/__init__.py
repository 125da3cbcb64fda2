"""The assmat's own children ("Vos propres enfants"): first name and birth date, no more. Since the 2021 reform they
never take a place of the agrément; the capacity engine counts them in the L421-4 totals."""
